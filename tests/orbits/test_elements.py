"""Element parsing: TLE (2/3-line, any line endings), OMM (JSON/CSV/XML), Hypatia, shells, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4 import exporter
from sgp4.api import WGS72, Satrec

from skyfence.cli import main
from skyfence.errors import ElementsError
from skyfence.orbits.catalog import data_path, load_elements
from skyfence.orbits.elements import format_tle, parse_tle_text, tle_checksum
from skyfence.orbits.shells import PRESETS, Shell, mean_altitude_km, walker_elements

ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r\r\n", "\r"])
def test_line_endings(eol):
    els = parse_tle_text(ISS.replace("\n", eol))
    assert els.names == ["ISS (ZARYA)"] and els.norad_ids == [25544]


def test_two_line_and_three_line():
    two = "\n".join(ISS.splitlines()[1:])
    assert parse_tle_text(two).norad_ids == [25544]
    assert parse_tle_text("0 " + ISS).names == ["ISS (ZARYA)"]


def test_bundled_snapshot_with_crcrlf():
    els = load_elements("starlink")
    assert len(els) == 10_281 and not els.skipped
    assert all(n.startswith("STARLINK") for n in els.names[:10])


def _satrec(epoch_days, inc, raan, ecc, argp, ma, n_revday, bstar, satnum):
    sat = Satrec()
    sat.sgp4init(WGS72, "i", satnum, epoch_days, bstar, 0.0, 0.0, ecc, np.radians(argp),
                 np.radians(inc), np.radians(ma), n_revday * 2 * np.pi / 1440, np.radians(raan))  # fmt: skip
    return sat


@settings(max_examples=150, deadline=None)
@given(
    epoch_days=st.floats(18_000, 28_000),  # days since 1949-12-31: 1999..2026
    inc=st.floats(0, 179.9),
    raan=st.floats(0, 359.9),
    ecc=st.floats(0, 0.9),
    argp=st.floats(0, 359.9),
    ma=st.floats(0, 359.9),
    n=st.floats(0.9, 16.5),
    # TLE B* has 5 significant digits and a one-digit exponent: |B*| in [1e-9, 1e-3] or 0
    bstar=st.one_of(st.just(0.0), st.floats(1e-9, 1e-3), st.floats(-1e-3, -1e-9)),
    satnum=st.integers(1, 99_999),
)
def test_tle_round_trip(epoch_days, inc, raan, ecc, argp, ma, n, bstar, satnum):
    """A TLE written from elements parses back to the same elements (to the TLE's precision)."""
    sat = _satrec(epoch_days, inc, raan, ecc, argp, ma, n, bstar, satnum)
    l1, l2 = format_tle(sat)
    assert tle_checksum(l1) == int(l1[68]) and tle_checksum(l2) == int(l2[68])
    back = parse_tle_text(f"SAT\n{l1}\n{l2}\n").satrecs[0]
    assert back.satnum == satnum
    assert back.inclo == pytest.approx(sat.inclo, abs=np.radians(1e-4))
    assert back.nodeo == pytest.approx(sat.nodeo, abs=np.radians(1e-4))
    assert back.ecco == pytest.approx(sat.ecco, abs=1e-7)
    assert back.argpo == pytest.approx(sat.argpo, abs=np.radians(1e-4))
    assert back.mo == pytest.approx(sat.mo, abs=np.radians(1e-4))
    assert back.no_kozai == pytest.approx(sat.no_kozai, rel=1e-9, abs=2 * np.pi / 1440 * 1e-8)
    assert back.bstar == pytest.approx(sat.bstar, rel=1e-4, abs=1e-9)
    assert back.jdsatepoch + back.jdsatepochF == pytest.approx(sat.jdsatepoch + sat.jdsatepochF, abs=1e-8)
    # and writing it again gives the same text
    assert exporter.export_tle(back) == (l1, l2)


def _corrupt(line_no, col, ch, name="CORRUPT"):
    lines = ISS.splitlines()
    s = list(lines[line_no])
    s[col - 1] = ch
    lines[line_no] = "".join(s)
    return "\n".join(lines) + "\n"


MALFORMED = {
    "checksum": (_corrupt(1, 69, "0"), "line 2: line 1 checksum is 0, computed 7"),
    "bad number": (_corrupt(2, 12, "x"), "line 3: line 2 columns 9-16 (inclination)"),
    "short line": ("ISS\n1 25544U 98067A   08264.51782528\n" + ISS.splitlines()[2] + "\n", "line 2: line 1 is 32 characters long, expected 69"),
    "line 2 missing": ("ISS\n" + ISS.splitlines()[1] + "\nFOO\n", "line 3: expected line 2 of the TLE for 'ISS', found 'FOO'"),
    "satnum mismatch": (ISS.replace("2 25544", "2 25545").replace("563537", "563538"), "line 2: satellite numbers differ"),
    "wrong line number": (ISS.replace("2 25544  51", "3 25544  51"), "line 3: expected line 2 of the TLE"),
    "garbage": ("hello world\n", "line 1: unexpected line"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_tle_errors(case, tmp_path):
    text, want = MALFORMED[case]
    f = tmp_path / "bad.tle"
    f.write_text(text)
    with pytest.raises(ElementsError) as ei:
        load_elements(str(f))
    msg = str(ei.value)
    assert str(f) in msg and want in msg, msg


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_tle_cli(case, tmp_path, capsys):
    f = tmp_path / "bad.tle"
    f.write_text(MALFORMED[case][0])
    rc = main(["positions", "--elements", str(f), "--duration", "60", "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "error:" in err and "Traceback" not in err and "bad.tle" in err


def test_skip_invalid_counts(tmp_path, capsys):
    f = tmp_path / "mixed.tle"
    f.write_text(ISS + MALFORMED["checksum"][0] + ISS.replace("25544", "25545").replace("2927", "2928").replace("563537", "563538"))
    els = load_elements(str(f), skip_invalid=True)
    assert len(els.skipped) >= 1 and len(els) >= 1
    out = tmp_path / "p.csv"
    assert main(["positions", "--elements", str(f), "--skip-invalid", "--duration", "60", "--out", str(out)]) == 0
    assert "skipped" in capsys.readouterr().err


def test_omm_json_csv_xml_agree(tmp_path):
    """The same satellites in OMM JSON, CSV and XML give identical Satrecs."""
    src = Path(str(data_path("omm/starlink_omm_2024-05-20.json")))
    recs = json.loads(src.read_text())[:5]
    j = tmp_path / "a.json"
    j.write_text(json.dumps(recs))
    keys = list(recs[0])
    c = tmp_path / "a.csv"
    c.write_text(",".join(keys) + "\n" + "\n".join(",".join(str(r[k]) for k in keys) for r in recs) + "\n")
    x = tmp_path / "a.xml"
    segs = "".join(
        "<segment><metadata>" + f"<OBJECT_NAME>{r['OBJECT_NAME']}</OBJECT_NAME><OBJECT_ID>{r['OBJECT_ID']}</OBJECT_ID>"
        "<CENTER_NAME>EARTH</CENTER_NAME><REF_FRAME>TEME</REF_FRAME><TIME_SYSTEM>UTC</TIME_SYSTEM>"
        "<MEAN_ELEMENT_THEORY>SGP4</MEAN_ELEMENT_THEORY></metadata><data><meanElements>"
        + "".join(f"<{k}>{r[k]}</{k}>" for k in ("EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE", "ARG_OF_PERICENTER", "MEAN_ANOMALY"))
        + "</meanElements><tleParameters>"
        + "".join(f"<{k}>{r[k]}</{k}>" for k in ("EPHEMERIS_TYPE", "CLASSIFICATION_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO", "REV_AT_EPOCH", "BSTAR", "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT"))
        + "</tleParameters></data></segment>"
        for r in recs
    )
    x.write_text(f'<?xml version="1.0" encoding="UTF-8"?><ndm><omm><body>{segs}</body></omm></ndm>')
    a, b, cc = load_elements(str(j)), load_elements(str(c)), load_elements(str(x))
    assert a.norad_ids == b.norad_ids == cc.norad_ids == [r["NORAD_CAT_ID"] for r in recs]
    for s1, s2, s3 in zip(a.satrecs, b.satrecs, cc.satrecs, strict=True):
        for attr in ("no_kozai", "ecco", "inclo", "nodeo", "argpo", "mo", "bstar", "jdsatepoch", "jdsatepochF"):
            assert getattr(s1, attr) == getattr(s2, attr) == getattr(s3, attr)


@pytest.mark.parametrize(
    "content, want",
    [
        ('[{"OBJECT_NAME": "X"}]', "record 1: missing OMM field(s) EPOCH"),
        ('[{"OBJECT_NAME": "X", ', "invalid JSON"),
        ("<ndm><omm>", "invalid OMM XML"),
    ],
)
def test_malformed_omm(tmp_path, content, want):
    f = tmp_path / ("bad.xml" if content.startswith("<") else "bad.json")
    f.write_text(content)
    with pytest.raises(ElementsError, match="bad") as ei:
        load_elements(str(f))
    assert want in str(ei.value)


def test_omm_bad_number(tmp_path):
    src = Path(str(data_path("omm/starlink_omm_2024-05-20.json")))
    rec = json.loads(src.read_text())[0]
    rec["INCLINATION"] = "fifty-three"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps([rec]))
    with pytest.raises(ElementsError, match="INCLINATION"):
        load_elements(str(f))


def test_hypatia_tles_header():
    els = load_elements(str(Path(__file__).resolve().parents[1] / "data" / "hypatia-kuiper-630" / "tles.txt"))
    assert len(els) == 34 * 34 and els.shells == [(34, 34)]


def test_unknown_preset_suggests():
    with pytest.raises(ElementsError, match="did you mean kuiper-630"):
        load_elements("kuiper-63")


def test_presets_sizes():
    assert len(load_elements("starlink-gen1")) == 4408
    assert load_elements("starlink-gen1").shells == [(72, 22), (72, 22), (36, 20), (6, 58), (4, 43)]
    assert len(load_elements("kuiper-630")) == 1156


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shell_mean_altitude_is_filed_altitude(name):
    """Mean motion is solved under SGP4: the propagated orbit's mean altitude is the filed one."""
    els = load_elements(name)
    start = 0
    for shell, (p, s) in zip(PRESETS[name], els.shells, strict=True):
        assert mean_altitude_km(els.satrecs[start]) == pytest.approx(shell.altitude_km, abs=0.01)
        start += p * s


def test_hand_set_mean_motion_is_not_550_km():
    """Hypatia's Starlink-550 mean motion (15.19 rev/day) averages ~509 km under SGP4, not 550."""
    sat = _satrec(27_760.0, 53.0, 0, 1e-7, 0, 0, 15.19, 0, 1)
    assert 500 < mean_altitude_km(sat) < 515
    ours = walker_elements([Shell(72, 22, 550.0, 53.0)]).satrecs[0]
    assert ours.no_kozai * 1440 / (2 * np.pi) < 15.10


def test_walker_geometry():
    els = walker_elements([Shell(4, 3, 600.0, 60.0, phasing=1)])
    raan = np.degrees([s.nodeo for s in els.satrecs]).reshape(4, 3)
    ma = np.degrees([s.mo for s in els.satrecs]).reshape(4, 3)
    np.testing.assert_allclose(raan[:, 0], [0, 90, 180, 270])
    np.testing.assert_allclose(np.diff(ma[0]), 120)
    np.testing.assert_allclose(ma[1, 0] - ma[0, 0], 360 / 12)
