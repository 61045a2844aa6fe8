"""The bundled example scenarios: list them, and copy one (with its policy and data files) into a
folder of your own so that it runs from there and can be edited.

A copy holds ``scenario.toml`` and every file the scenario names (terminals, tracks, region files,
policies, element files), side by side; the paths in ``scenario.toml`` are rewritten to the copied
names, and everything else in the file (comments included) is kept as it is.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

from skyfence.errors import ScenarioError
from skyfence.service.scenario import example_names, example_path, load_scenario, scenario_kind

__all__ = ["list_examples", "copy_example"]


def list_examples() -> list[dict[str, str]]:
    """``[{"name", "description", "path"}]`` of every bundled example."""
    out = []
    for name in example_names():
        p = example_path(name)
        sc = load_scenario(p)
        out.append({"name": name, "description": " ".join(sc.description.split()), "path": str(p)})
    return out


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def copy_example(name: str, dest_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Copy the bundled example ``name`` into ``dest_dir``; returns the new ``scenario.toml``.

    Refuses (``ScenarioError``) to overwrite an existing ``scenario.toml`` unless ``overwrite``.
    """
    src = example_path(name)
    dest = Path(dest_dir)
    target = dest / "scenario.toml"
    if target.exists() and not overwrite:
        raise ScenarioError(f"{target} exists already (choose another folder)")
    text = src.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    base = src.parent
    renames: dict[str, str] = {}
    used: set[str] = {"scenario.toml"}
    for s in _strings({k: v for k, v in data.items() if isinstance(v, dict)}):
        if s in renames or len(s) > 255 or "\n" in s:
            continue
        f = (base / s) if not Path(s).is_absolute() else Path(s)
        if not f.is_file():
            continue
        new = f.name
        k = 1
        while new in used:
            new = f"{f.stem}-{k}{f.suffix}"
            k += 1
        used.add(new)
        renames[s] = new
    dest.mkdir(parents=True, exist_ok=True)
    for old, new in renames.items():
        f = (base / old) if not Path(old).is_absolute() else Path(old)
        shutil.copyfile(f, dest / new)
        text = text.replace(f'"{old}"', f'"{new}"').replace(f"'{old}'", f"'{new}'")
    target.write_text(text, encoding="utf-8")
    if scenario_kind(target) == "revisit":  # the copy must validate on its own
        from skyfence.imaging.scenario import load_revisit_scenario

        load_revisit_scenario(target)
    else:
        load_scenario(target)
    return target
