"""Orbital elements in: TLE (2- and 3-line), CCSDS OMM (JSON, CSV, XML), Hypatia ``tles.txt``,
Walker shells (see :mod:`skyfence.orbits.shells`) and the bundled real snapshots.

Every record is validated (line numbers, column layout, checksums, numeric fields, satellite
number agreement) and a bad one raises :class:`~skyfence.errors.ElementsError` naming the file,
the line and what is wrong, unless ``skip_invalid=True``, in which case it is counted in
:attr:`Elements.skipped` with the reason.

SGP4 is initialised with WGS-72 constants, as the elements were fitted (and as the Vallado
verification set expects).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sgp4 import omm
from sgp4.api import WGS72, Satrec, SatrecArray

from skyfence.errors import ElementsError


@dataclass
class Elements:
    """A set of satellites ready for SGP4.

    ``shells`` is ``[(n_planes, sats_per_plane), ...]`` when the satellites are a plane-major
    Walker layout (generated shells, Hypatia ``tles.txt``), else ``None``.
    """

    names: list[str]
    norad_ids: list[int | None]
    satrecs: list[Satrec]
    source: str = ""
    shells: list[tuple[int, int]] | None = None
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.satrecs)

    def satrec_array(self) -> SatrecArray:
        """The vectorized SGP4 propagator over all satellites."""
        return SatrecArray(self.satrecs)

    def subset(self, index: Sequence[int] | np.ndarray) -> Elements:
        """The satellites at ``index`` (a shell layout is dropped)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return Elements(
            [self.names[i] for i in idx],
            [self.norad_ids[i] for i in idx],
            [self.satrecs[i] for i in idx],
            source=self.source,
        )

    def epochs_utc(self) -> np.ndarray:
        """Element epochs (UTC) as datetime64[ns]."""
        jd = np.array([s.jdsatepoch for s in self.satrecs]) - 2440587.5
        fr = np.array([s.jdsatepochF for s in self.satrecs])
        ns = np.round(jd * 86_400e9) + np.round(fr * 86_400e9)
        return ns.astype("int64").astype("datetime64[ns]")

    def __add__(self, other: Elements) -> Elements:
        shells = None
        if self.shells is not None and other.shells is not None:
            shells = self.shells + other.shells
        return Elements(
            self.names + other.names,
            self.norad_ids + other.norad_ids,
            self.satrecs + other.satrecs,
            source=f"{self.source}+{other.source}",
            shells=shells,
            skipped=self.skipped + other.skipped,
        )


# --------------------------------------------------------------------------- TLE


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of the first 68 columns (digits count, '-' counts 1)."""
    head = line[:68]
    return (sum(_DIGIT_VALUE.get(ch, 0) for ch in head)) % 10


_DIGIT_VALUE = {str(d): d for d in range(10)} | {"-": 1}


# (name, first column, last column) 1-based inclusive, and a parser for the field
_L1_FIELDS = [
    ("satellite number", 3, 7, "alnum"),
    ("epoch year", 19, 20, "int"),
    ("epoch day", 21, 32, "float"),
    ("first derivative of mean motion", 34, 43, "float"),
    ("second derivative of mean motion", 45, 52, "exp"),
    ("B* drag term", 54, 61, "exp"),
]
_L2_FIELDS = [
    ("satellite number", 3, 7, "alnum"),
    ("inclination", 9, 16, "float"),
    ("right ascension of ascending node", 18, 25, "float"),
    ("eccentricity", 27, 33, "int"),
    ("argument of perigee", 35, 42, "float"),
    ("mean anomaly", 44, 51, "float"),
    ("mean motion", 53, 63, "float"),
]


def _check_field(kind: str, text: str) -> bool:
    t = text.strip()
    if kind == "alnum":
        return len(t) > 0 and t.isalnum()
    if kind == "int":
        return t.isdigit()
    if kind == "float":
        try:
            float(t if not t.startswith(("-.", ".", "+.")) else t.replace(".", "0.", 1))
            return True
        except ValueError:
            return False
    if kind == "exp":  # assumed-decimal mantissa with signed exponent, e.g. ' 12345-3', '-11606-4', '00000+0'
        t = text.replace(" ", "")
        if not t:
            return False
        body = t.lstrip("+-")
        return len(body) >= 2 and body[:-2].isdigit() and body[-2] in "+-" and body[-1].isdigit()
    raise AssertionError(kind)


def _validate_tle(line1: str, line2: str, check_checksums: bool = True) -> str | None:
    """Return what is wrong with a TLE pair, or None."""
    for no, line, fields in ((1, line1, _L1_FIELDS), (2, line2, _L2_FIELDS)):
        if len(line) < 68:
            return f"line {no} is {len(line)} characters long, expected 69"
        if len(line) > 69:
            return f"line {no} is {len(line)} characters long, expected 69"
        if not line.startswith(f"{no} "):
            return f"line {no} must start with '{no} ', found {line[:2]!r}"
        for name, a, b, kind in fields:
            if not _check_field(kind, line[a - 1 : b]):
                return f"line {no} columns {a}-{b} ({name}): {line[a - 1 : b]!r} is not valid"
        if len(line) == 69 and check_checksums:
            if not line[68].isdigit():
                return f"line {no} column 69 (checksum): {line[68]!r} is not a digit"
            want = tle_checksum(line)
            if int(line[68]) != want:
                return f"line {no} checksum is {line[68]}, computed {want}"
    if line1[2:7] != line2[2:7]:
        return f"satellite numbers differ between line 1 ({line1[2:7]!r}) and line 2 ({line2[2:7]!r})"
    return None


def _norad_from_satnum(satrec: Satrec) -> int | None:
    n = satrec.satnum
    return int(n) if n else None


def _satrec_from_tle(line1: str, line2: str) -> Satrec:
    # an SGP4 initialisation error (e.g. decayed) is kept: propagation reports it per time step
    return Satrec.twoline2rv(line1, line2, WGS72)


def parse_tle_text(
    text: str,
    *,
    source: str = "<text>",
    skip_invalid: bool = False,
    first_line_number: int = 1,
    check_checksums: bool = True,
) -> Elements:
    """Parse 2-line or 3-line TLE text (any mix of ``\\n``, ``\\r\\n``, ``\\r\\r\\n`` endings).

    Blank lines are ignored. A name line (3-line format) may start with ``0 ``.
    ``check_checksums=False`` accepts records whose column-69 checksum is wrong (some published
    test sets, e.g. one of Vallado's verification TLEs, carry one).
    """
    # physical lines: "\n", "\r\n" and "\r\r\n" end a line; a lone "\r" only in files without "\n"
    raw = [t.replace("\r", "") for t in text.split("\n")] if "\n" in text else text.split("\r")
    lines = [(i + first_line_number, t.rstrip()) for i, t in enumerate(raw)]
    lines = [(n, s) for n, s in lines if s.strip()]
    names: list[str] = []
    ids: list[int | None] = []
    sats: list[Satrec] = []
    skipped: list[str] = []
    i = 0

    def fail(lineno: int, msg: str) -> None:
        full = f"{source}, line {lineno}: {msg}"
        if not skip_invalid:
            raise ElementsError(full)
        skipped.append(full)

    while i < len(lines):
        lineno, s = lines[i]
        if s.startswith("1 ") and i + 1 < len(lines) and lines[i + 1][1].startswith("2 "):
            name, l1, l2 = None, s, lines[i + 1][1]
            l1no = lineno
            i += 2
        elif (
            not s.startswith(("1 ", "2 "))
            and i + 2 < len(lines)
            and lines[i + 1][1].startswith("1 ")
        ):
            name = s[2:].strip() if s.startswith("0 ") else s.strip()
            l1, l2 = lines[i + 1][1], lines[i + 2][1]
            l1no = lines[i + 1][0]
            i += 3
            if not l2.startswith("2 "):
                fail(l1no + 1, f"expected line 2 of the TLE for {name!r}, found {l2[:20]!r}")
                i -= 1
                continue
        else:
            what = "a line 1 without its line 2" if s.startswith("1 ") else f"unexpected line {s[:30]!r}"
            fail(lineno, f"{what} (not a TLE record)")
            i += 1
            continue
        problem = _validate_tle(l1, l2, check_checksums)
        if problem is None:
            try:
                sat = _satrec_from_tle(l1, l2)
            except Exception as exc:  # noqa: BLE001 - sgp4 raises ValueError/others on odd input
                problem = str(exc)
        if problem is not None:
            where = l1no + 1 if problem.startswith("line 2") else l1no
            fail(where, problem)
            continue
        sats.append(sat)
        ids.append(_norad_from_satnum(sat))
        names.append(name if name else l1[2:7].strip())
    return Elements(names, ids, sats, source=source, skipped=skipped)


def format_tle(satrec: Satrec) -> tuple[str, str]:
    """Write a Satrec back as a TLE pair (columns and checksums per the TLE format)."""
    from sgp4.exporter import export_tle

    return export_tle(satrec)


# --------------------------------------------------------------------------- OMM


def _satrec_from_omm(fields: dict, where: str) -> Satrec:
    required = [
        "EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
        "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR",
        "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT",
    ]  # fmt: skip
    missing = [k for k in required if fields.get(k) in (None, "")]
    if missing:
        raise ElementsError(f"{where}: missing OMM field(s) {', '.join(missing)}")
    f = {k: str(v) for k, v in fields.items() if v is not None}
    f.setdefault("EPHEMERIS_TYPE", "0")
    f.setdefault("CLASSIFICATION_TYPE", "U")
    f.setdefault("ELEMENT_SET_NO", "999")
    f.setdefault("REV_AT_EPOCH", "0")
    f.setdefault("OBJECT_ID", "")
    sat = Satrec()
    try:
        for k in required[1:]:
            float(f[k])
        omm.initialize(sat, f)
    except (ValueError, KeyError, TypeError) as exc:
        bad = next((k for k in required[1:] if not _is_float(f.get(k))), None)
        detail = f"field {bad} = {f.get(bad)!r} is not a number" if bad else str(exc)
        raise ElementsError(f"{where}: {detail}") from None
    if sat.error:
        raise ElementsError(f"{where}: SGP4 rejected the elements (error {sat.error})")
    return sat


def _is_float(v: object) -> bool:
    try:
        float(v)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def _omm_records(path: Path, text: str) -> list[tuple[str, dict]]:
    suffix = path.suffix.lower()
    stripped = text.lstrip()
    if suffix == ".json" or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ElementsError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ElementsError(f"{path}: OMM JSON must be an object or a list of objects")
        return [(f"{path}, record {i + 1}", d) for i, d in enumerate(data)]
    if suffix == ".xml" or stripped.startswith("<"):
        try:
            recs = list(omm.parse_xml(io.StringIO(text)))
        except Exception as exc:  # noqa: BLE001 - ElementTree raises several types
            raise ElementsError(f"{path}: invalid OMM XML: {exc}") from None
        return [(f"{path}, segment {i + 1}", d) for i, d in enumerate(recs)]
    # CSV with a header line
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "MEAN_MOTION" not in reader.fieldnames:
        raise ElementsError(f"{path}: not a TLE, OMM JSON, OMM XML or OMM CSV file")
    return [(f"{path}, line {i + 2}", d) for i, d in enumerate(reader)]


def parse_omm(path: Path, text: str, *, skip_invalid: bool = False) -> Elements:
    """Parse CCSDS OMM as CelesTrak serves it (JSON, CSV or XML)."""
    names, ids, sats, skipped = [], [], [], []
    for where, rec in _omm_records(path, text):
        try:
            sat = _satrec_from_omm(rec, where)
        except ElementsError as exc:
            if not skip_invalid:
                raise
            skipped.append(str(exc))
            continue
        sats.append(sat)
        ids.append(int(rec["NORAD_CAT_ID"]))
        names.append(str(rec.get("OBJECT_NAME") or rec["NORAD_CAT_ID"]))
    return Elements(names, ids, sats, source=str(path), skipped=skipped)


# --------------------------------------------------------------------------- dispatch


def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        raise ElementsError(f"{path}: no such elements file or preset") from None
    except UnicodeDecodeError as exc:
        raise ElementsError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from None


def load_file(path: str | os.PathLike, *, skip_invalid: bool = False) -> Elements:
    """Load a TLE, Hypatia ``tles.txt`` or OMM file, detecting the format from its content."""
    p = Path(path)
    text = _read_text(p)
    head = text.lstrip()[:1]
    if p.suffix.lower() in (".json", ".xml", ".csv") or head in ("[", "{", "<"):
        els = parse_omm(p, text, skip_invalid=skip_invalid)
    else:
        first_line, _, rest = text.partition("\n")
        first = first_line.split()
        if len(first) == 2 and all(t.isdigit() for t in first):
            # Hypatia tles.txt: "<n_orbits> <sats_per_orbit>" header
            els = parse_tle_text(rest, source=str(p), skip_invalid=skip_invalid, first_line_number=2)
            n_orb, n_per = int(first[0]), int(first[1])
            if n_orb * n_per == len(els) and not els.skipped:
                els.shells = [(n_orb, n_per)]
        else:
            els = parse_tle_text(text, source=str(p), skip_invalid=skip_invalid)
    if len(els) == 0:
        raise ElementsError(f"{p}: no valid element sets found" + (f" ({len(els.skipped)} skipped)" if els.skipped else ""))
    return els
