"""The validation report in a real browser: headless Chromium loads a copy of the page with a
small check script added, which writes what the browser saw into the DOM (`--dump-dom`).

Checked: every section is there and has a height, every image decoded (``naturalWidth`` > 0),
and the page fetched nothing but its own ``data:`` URIs. Skipped, with the reason, where
Debian's ``chromium`` is not installed (`.ci/run` installs it when it runs as root).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from experiments.reports.html import SECTION_IDS

CHROMIUM = os.environ.get("RISKGRADE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHECK_ID = "browser-check"
CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const ids = %(ids)s;
  const images = Array.from(document.images);
  const result = {
    missing_sections: ids.filter((id) => !document.querySelector("section#" + id)),
    flat_sections: ids.filter((id) => {
      const section = document.getElementById(id);
      return section && section.getBoundingClientRect().height < 20;
    }),
    n_images: images.length,
    broken_images: images
      .filter((img) => !(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0))
      .map((img) => img.alt),
    smallest_image_px: Math.min(...images.map((img) => img.naturalWidth)),
    fetched: performance.getEntriesByType("resource").map((entry) => entry.name)
      .filter((name) => !name.startsWith("data:")),
  };
  const out = document.createElement("pre");
  out.id = "%(check_id)s";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


pytestmark = pytest.mark.skipif(
    not chromium_available(),
    reason=f"headless browser check needs Debian's chromium ({CHROMIUM} not found); "
    "`.ci/run` installs it as root (apt-get install chromium), or set RISKGRADE_CHROMIUM",
)


def with_check_script(page: str) -> str:
    script = CHECK_SCRIPT % {"ids": json.dumps(list(SECTION_IDS)), "check_id": CHECK_ID}
    if "</body>" not in page:
        raise AssertionError("the report has no </body>: not a complete HTML page")
    return page.replace("</body>", script + "</body>", 1)


def render_in_chromium(page: Path, profile: Path) -> str:
    """The DOM after the page's load event, as headless Chromium serialises it."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root (CI); the page is a local file we wrote
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}"
    return done.stdout


def read_check(dom: str) -> dict[str, Any]:
    found = re.search(rf'<pre id="{CHECK_ID}">(.*?)</pre>', dom, flags=re.S)
    assert found, "the check script did not run (no result in the DOM); page or browser broken"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def test_report_renders_with_every_section_and_image_in_chromium(
    reported_version: Any, tmp_path: Path
) -> None:
    source = reported_version.html.read_text(encoding="utf-8")
    page = tmp_path / "validation_report_check.html"
    page.write_text(with_check_script(source), encoding="utf-8")
    result = read_check(render_in_chromium(page, tmp_path / "chromium-profile"))
    assert result["missing_sections"] == []
    assert result["flat_sections"] == []
    assert result["n_images"] == source.count("<img ") == 11  # 10 + fairness
    assert result["broken_images"] == []
    assert result["smallest_image_px"] > 100
    assert result["fetched"] == [], "the report must not load anything from outside"
