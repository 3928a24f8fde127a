"""The checked-in generated files match the code.

completions/egactl.{bash,zsh,fish}, docs/reference.md and docs/openapi.json are
written by scripts/regenerate.py; when a command, an option or a route changes,
they must be regenerated (`python scripts/regenerate.py`) and committed with it.
The script runs in a subprocess: it builds its own clean environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "regenerate.py"
GENERATED = ["completions/egactl.bash", "completions/egactl.zsh", "completions/egactl.fish",
             "docs/reference.md", "docs/openapi.json"]


def regenerate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_generated_files_are_up_to_date():
    result = regenerate("--check")
    assert result.returncode == 0, (
        f"{result.stderr.strip()}\n"
        "completions/, docs/reference.md and docs/openapi.json are generated from the code: "
        "run `python scripts/regenerate.py` and commit the result"
    )


def test_check_names_the_stale_file_and_how_to_fix_it(tmp_path):
    for rel in GENERATED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    reference = tmp_path / "docs" / "reference.md"
    reference.write_text(reference.read_text("utf-8").replace("## egactl institutions list", "## egactl institutions ls"),
                         "utf-8")

    result = regenerate("--check", "--out", str(tmp_path))

    assert result.returncode == 1
    assert "docs/reference.md" in result.stderr
    assert "python scripts/regenerate.py" in result.stderr
    assert "## egactl institutions ls" in reference.read_text("utf-8"), "--check must not write"


def test_reference_documents_every_installed_plugin():
    from egactl.discovery import found

    headings = {line[3:].strip() for line in (ROOT / "docs" / "reference.md").read_text("utf-8").splitlines()
                if line.startswith("## ")}
    missing = [name for name in found() if f"egactl {name}" not in headings]
    assert not missing, f"docs/reference.md lacks plugin(s) {missing}; run `python scripts/regenerate.py`"
