"""The ``params.yaml`` that ``riskgrade init`` writes: the profiled ``data`` section, one
comment per decision, and every other section from ``templates/params.yaml.j2`` (the bundled
params.yaml with its dataset-specific settings neutral).

Labels are always quoted: YAML reads an unquoted ``yes``, ``no``, ``true`` or ``off`` as a
boolean, and ``riskgrade validate`` compares the file's text. Column names and tokens are
quoted whenever YAML could read them as anything but that text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from experiments.config import ConfigError, parse_config, stale_column_references
from experiments.io import file_digest
from experiments.onboarding.options import InitOptions
from experiments.onboarding.profile import DataProfile, profile_table
from experiments.onboarding.reading import read_raw_table

PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_\-./]*$")  # no character YAML gives a meaning
YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off"}  # YAML 1.1 booleans
MAX_ALIGNED = 48  # comments line up after the longest line up to this long


@dataclass(frozen=True)
class SourceFile:
    """Where the data is, as params.yaml names it, and what is pinned about it."""

    text: str  # relative to the project when inside it, else absolute
    name: str  # data.name: names data/raw/<name>.<format>
    sha256: str


def yaml_text(value: str, always_quote: bool = False) -> str:
    """``value`` as a YAML scalar that reads back as this exact text."""
    plain = PLAIN.match(value) and value.lower() not in YAML_WORDS
    if not always_quote and plain and yaml.safe_load(value) == value:  # not a number, date, null
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def source_file(path: Path, project_dir: Path, sha256: str) -> SourceFile:
    resolved, project = path.resolve(), project_dir.resolve()
    text = str(resolved.relative_to(project) if resolved.is_relative_to(project) else resolved)
    name = re.sub(r"[^A-Za-z0-9_\-]+", "_", path.stem).strip("_") or "dataset"
    return SourceFile(text, name, sha256)


def commented(line: str, comment: str) -> tuple[str, str]:
    return line, " ".join(comment.split())  # one line, whatever the reason held


def aligned(lines: list[tuple[str, str]]) -> list[str]:
    """``line  # comment``, the comments lined up (a longer line pushes only its own)."""
    width = max((len(line) for line, why in lines if why and len(line) <= MAX_ALIGNED), default=0)
    return [f"{line.ljust(width)}  # {comment}" if comment else line for line, comment in lines]


def data_lines(profile: DataProfile, source: SourceFile) -> list[str]:
    """The ``data`` section's lines (without their two-space indent)."""
    table, labels = profile.table, profile.labels
    tokens = ", ".join(yaml_text(t, always_quote=True) for t in profile.na_values)
    found = "; ".join(
        f"{yaml_text(t, always_quote=True)} in {', '.join(c[:3])}"
        + (f" and {len(c) - 3} more" if len(c) > 3 else "")
        for t, c in profile.token_columns.items()
    )
    id_column, date_column = profile.single("id"), profile.single("date")
    lines = [
        commented(f"name: {source.name}", f"names data/raw/{source.name}.{table.format}"),
        (f"source: {yaml_text(source.text)}", ""),
        (f"format: {table.format}", ""),
        commented(
            f"sha256: {yaml_text(source.sha256)}", "pinned: ingest refuses other content (or null)"
        ),
    ]
    if table.format == "csv":
        lines += [
            commented(f"delimiter: {json.dumps(table.delimiter)}", "detected"),
            commented(f"encoding: {table.encoding}", f"detected: {table.encoding_note}"),
        ]
    lines += [
        commented(f"na_values: [{tokens}]", f"text meaning missing: {found or 'empty fields'}"),
        commented(f"target: {yaml_text(str(profile.single('target')))}", profile.why("target")),
        commented(
            f"positive_label: {yaml_text(labels.positive, True)}", 'the label meaning "defaulted"'
        ),
        (f"negative_label: {yaml_text(labels.negative, True)}", ""),
        commented(
            f"id_column: {yaml_text(id_column) if id_column else 'null'}",
            profile.why("id") or "no column is unique in every row: a row id is generated",
        ),
        commented(
            f"date_column: {yaml_text(date_column) if date_column else 'null'}",
            profile.why("date") or "none given (--date-column): stratified random split",
        ),
        # impossible values are a business decision, never the file's observed minimum/maximum
        commented("ranges: {}", "valid values of numbers, e.g. age: {min: 18, max: 120}"),
    ]
    for role in ("numeric", "categorical", "excluded"):
        decisions = [d for d in profile.decisions if d.role == role]
        lines.append((f"{role}:" + ("" if decisions else " []"), ""))
        lines += [commented(f"  - {yaml_text(d.column)}", d.why) for d in decisions]
    protected = [d.column for d in profile.decisions if d.protected]
    lines.append(
        commented(
            "protected:" + ("" if protected else " []"),
            "excluded columns reviewed for fairness (validation report)",
        )
    )
    lines += [(f"  - {yaml_text(column)}", "") for column in protected]
    return aligned(lines)


def render_params(profile: DataProfile, source: SourceFile, command: str) -> str:
    """The whole params.yaml text."""
    environment = jinja2.Environment(  # YAML, not HTML: nothing to escape
        loader=jinja2.PackageLoader("experiments.onboarding", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    sample_note = ""
    if profile.table.sampled:
        sample_note = f" (a random sample of {len(profile.table.frame):,} rows)"
    return environment.get_template("params.yaml.j2").render(
        command=command, sample_note=sample_note, data_lines=data_lines(profile, source)
    )


def params_for_file(
    path: Path, options: InitOptions, output: Path, command: str
) -> tuple[DataProfile, str]:
    """Profile ``path`` and render the params.yaml to be written at ``output``.

    The text is checked as every stage checks it (``load_config``'s validation, and no
    setting naming a column the data lacks) before anything is written.
    """
    profile = profile_table(read_raw_table(path, options.seed), options)
    source = source_file(path, output.parent, file_digest(path, "sha256"))
    text = render_params(profile, source, command)
    config = parse_config(yaml.safe_load(text), str(output))
    stale = stale_column_references(config)
    if stale:  # pragma: no cover - the template names no column
        raise ConfigError(f"{output}: the written settings name unknown columns: {stale}")
    return profile, text
