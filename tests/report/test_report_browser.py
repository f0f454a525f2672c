"""End to end: a tiny real study launched and exported through the CLI (in this process), its
report opened in headless Chromium (Debian's package; no browser is downloaded): every image
decodes, no console error, no network request; a screenshot is taken."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import cli_here, tiny_spec, write_spec

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def console_errors(stderr: str) -> list[str]:
    """Console messages (Chromium logs them as CONSOLE lines) and failed loads."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "net::ERR" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_of_a_real_exported_study_renders_in_chromium(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "tiny.yaml",
        tiny_spec(search={"backend": "tpe", "trials": 3, "max_epochs": 4, "patience": 3}),
    )
    study_dir = tmp_path / "results" / "tiny"
    for args in (
        ("launch", str(spec), "--results", str(tmp_path / "results")),
        ("export", str(study_dir)),
        ("report", str(study_dir)),
    ):
        done = cli_here(*args)
        assert done.returncode == 0, done.stderr
    page = study_dir / "report.html"
    images = page.read_text().count("<img")
    assert images == 5  # history, importances, slices, curves, forecast

    dom = chromium(
        tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stdout[:500]
    assert f'data-images="{images}"' in body.group(0)
    assert f'data-rendered="{images}"' in body.group(0)  # naturalWidth > 0 for every image
    assert console_errors(dom.stderr) == []

    shot = tmp_path / "report.png"
    done = chromium(
        tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    assert console_errors(done.stderr) == []
