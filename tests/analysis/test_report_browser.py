"""The report in headless Chromium: renders offline, no console errors, charts drawn.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped
when it is missing.  The screenshot is kept beside the test's temporary
folder for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tipnlp.analysis.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium)")
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report(out_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(out_dir, tmp_path_factory.mktemp("report") / "report.html")


def test_renders_without_console_errors_and_draws_charts(report: Path) -> None:
    run = _chromium(
        report.parent, "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    dom = run.stdout
    # The checklist rows are in the rendered DOM, one per jurisdiction.
    rows = re.findall(r'<tr class="checklist-row" data-jurisdiction="([^"]+)"', dom)
    assert rows == ["FR", "GB", "IE", "NZ"]
    # Plotly drew an SVG into each chart container.
    for chart in ("chart-signals-time", "chart-signals-country", "chart-penalties"):
        start = dom.index(f'id="{chart}"')
        assert "main-svg" in dom[start : start + 5000], f"{chart} was not drawn"


def test_screenshot(report: Path) -> None:
    shot = report.parent / "report.png"
    run = _chromium(
        report.parent, f"--screenshot={shot}", "--window-size=1400,2000", report.as_uri()
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000
    keep = os.environ.get("TIPNLP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")
