"""The wheel ships the templates and the data, and renders HTML when installed (not only from a
source checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("decaudit-*.whl")
    return built


def test_wheel_contains_packages_templates_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "auditor/templates/report.html.j2" in names
    assert "auditor/templates/report.css" in names
    assert "auditor/data/operators.json" in names
    assert "auditor/py.typed" in names
    assert "checks/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "decaudit = auditor.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_renders_html_from_its_own_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    evidence = ROOT / "sample_reports" / "bsky-default.json"  # a JSON report: its evidence is used
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import auditor.render.html as h\n"
        "assert h.__file__.startswith(sys.argv[1]), h.__file__\n"
        "from auditor.cli import main\n"
        "sys.argv = ['decaudit', 'render', sys.argv[2], '--format', 'html']\n"
        "main()\n"
    )
    # run from an empty directory so the source checkout is not importable
    result = subprocess.run(
        [sys.executable, "-c", code, str(target), str(evidence)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert (ROOT / "sample_reports" / "bsky-default.html").read_text() == result.stdout
