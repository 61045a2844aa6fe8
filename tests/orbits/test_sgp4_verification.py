"""Vallado et al. (2006) SGP4 verification set: skyfence's parser + vectorized propagation
reproduce ``tcppver.out`` (TEME r, v) and the expected error codes.

Data: tests/data/sgp4_verification (copied from the sgp4 2.27 sdist, see PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyfence.orbits.elements import parse_tle_text
from skyfence.orbits.propagate import propagate

DATA = Path(__file__).resolve().parents[1] / "data" / "sgp4_verification"


def _cases():
    lines = (DATA / "SGP4-VER.TLE").read_text().splitlines()
    cases = []
    for i, line in enumerate(lines):
        if line.startswith("1 "):
            l1, l2 = line[:69], lines[i + 1][:69]
            start, stop, step = (float(x) for x in lines[i + 1][69:].split())
            cases.append((l1, l2, start, stop, step))
    return cases


def _expected():
    """Blocks of (satnum, rows). Where a satellite fails at its epoch, Vallado's driver prints the
    previous satellite's last position again at t=0 ("use previous data line"): such rows are dropped."""
    blocks: list[tuple[int, list[list[float]]]] = []
    previous: list[float] | None = None
    for line in (DATA / "tcppver.out").read_text().replace("\r", "").splitlines():
        if line.strip().endswith("xx"):
            blocks.append((int(line.split()[0]), []))
        elif line.strip():
            row = [float(x) for x in line.split()[:7]]
            if not (blocks[-1][1] == [] and previous is not None and row[1:] == previous[1:]):
                blocks[-1][1].append(row)
            previous = row
    return blocks


CASES = _cases()
EXPECTED = _expected()


def test_case_count():
    assert len(CASES) == len(EXPECTED) == 33


@pytest.mark.parametrize("k", range(33))
def test_against_tcppver(k):
    l1, l2, start, stop, step = CASES[k]
    satnum, rows = EXPECTED[k]
    els = parse_tle_text(f"{l1}\n{l2}\n", source="SGP4-VER.TLE", check_checksums=False)
    sat = els.satrecs[0]
    assert sat.satnum == satnum
    epoch_ns = els.epochs_utc()[0].astype("int64")
    if not rows:
        # Vallado's driver printed nothing new: the satellite fails at its own epoch. Check that
        # skyfence reports an SGP4 error there and masks the position (NaN), not a number.
        eph = propagate(els, np.array([epoch_ns], dtype="int64").astype("datetime64[ns]"))
        assert eph.error[0, 0] != 0
        assert np.isnan(eph.r_teme_km[0, 0]).all()
        return
    ref = np.array(rows)
    # the reference's own times (minutes since epoch); ns rounding moves positions by < 1e-8 km
    t = (epoch_ns + np.round(ref[:, 0] * 60e9).astype("int64")).astype("datetime64[ns]")
    eph = propagate(els, t)
    assert not eph.error[0].any()
    np.testing.assert_allclose(eph.r_teme_km[0], ref[:, 1:4], rtol=0, atol=1e-6)
    np.testing.assert_allclose(eph.v_teme_km_s[0], ref[:, 4:7], rtol=0, atol=1e-9)


def test_error_codes():
    """The error cases stop with the codes the sgp4 package's own tests expect."""
    codes = []
    for l1, l2, start, stop, step in CASES:
        els = parse_tle_text(f"{l1}\n{l2}\n", check_checksums=False)
        tsince = np.append(np.arange(start, stop, step), stop)
        epoch_ns = els.epochs_utc()[0].astype("int64")
        t = (epoch_ns + np.round(tsince * 60e9).astype("int64")).astype("datetime64[ns]")
        err = propagate(els, t).error[0]
        if err.any():
            codes.append(int(err[np.flatnonzero(err)[0]]))
    assert codes == [1, 1, 6, 6, 4, 3, 6]


def test_bad_checksum_in_the_set_is_reported():
    """Three verification TLEs (cases 29-31) carry wrong line-1 checksums;
    with checksums on, skyfence names it instead of propagating silently."""
    bad = [k for k, (l1, l2, *_ ) in enumerate(CASES)
           if parse_tle_text(f"{l1}\n{l2}\n", skip_invalid=True).skipped]
    assert bad == [29, 30, 31]
    l1, l2, *_ = CASES[29]
    els = parse_tle_text(f"{l1}\n{l2}\n", source="SGP4-VER.TLE", skip_invalid=True)
    assert els.skipped == ["SGP4-VER.TLE, line 1: line 1 checksum is 4, computed 2"]
