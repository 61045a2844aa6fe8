"""The package's structure, checked: the layer contract (import-linter, configured in
pyproject.toml), no import cycles, one Earth model, modules of a readable size."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "skyfence"
MAX_LINES = 400


def _lint_imports(src_root: Path, config: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the package found under ``src_root`` with ``config``."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filenames=(sys.argv[2],), no_cache=True))"
    )
    return subprocess.run([sys.executable, "-c", code, str(src_root), str(config)],
                          capture_output=True, text=True, cwd=src_root, timeout=300)  # fmt: skip


def test_import_contracts_are_kept():
    r = _lint_imports(REPO / "src", REPO / "pyproject.toml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("geo/earth.py", "import skyfence.service.run", "layers"),  # a low layer importing a high one
        ("links/__init__.py", "import skyfence.network", "layers"),
        ("orbits/frames.py", "import skyfence.orbits.propagate", "acyclic"),  # propagate imports frames
    ],
)
def test_import_contracts_fail_when_broken(tmp_path, module, bad_import, contract):
    """A copy of the package with one forbidden import breaks the named contract."""
    dst = tmp_path / "skyfence"
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns("data", "examples", "__pycache__"))
    target = dst / module
    target.write_text(target.read_text() + f"\n{bad_import}  # injected by the test\n")
    r = _lint_imports(tmp_path, REPO / "pyproject.toml")
    assert r.returncode != 0
    names = {"layers": "layers: commands", "acyclic": "no import cycles"}
    broken = r.stdout.split("Broken contracts", 1)[-1]
    assert names[contract] in broken, r.stdout


EARTH_CONSTANTS = ("6378.137", "6378.135", "298.257", "298.26", "6371.0", "6356.7", "6371.00")


def test_earth_constants_defined_once():
    """No constant of the Earth model outside geo/earth.py (one Earth model)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "geo" / "earth.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(c in code for c in EARTH_CONSTANTS):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_only_geo_cells_imports_h3():
    offenders = [str(p.relative_to(REPO)) for p in SRC.rglob("*.py")
                 if p != SRC / "geo" / "cells.py" and re.search(r"^\s*(import h3|from h3)", p.read_text(), re.M)]  # fmt: skip
    assert not offenders


def test_modules_of_readable_size():
    """A module over MAX_LINES lines states why in its docstring (a paragraph starting 'Size:')."""
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        n = text.count("\n")
        if n > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Size:" not in doc:
                offenders.append(f"{path.relative_to(REPO)} ({n} lines)")
    assert not offenders, f"over {MAX_LINES} lines without a 'Size:' reason: {', '.join(offenders)}"


def test_tests_mirror_the_packages():
    """Every test module lives in the folder of the package it tests (tests/<package>/)."""
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= packages | {"data"}, folders - packages
    stray = [p.name for p in (REPO / "tests").glob("test_*.py") if p.name != "test_architecture.py"]
    assert not stray
