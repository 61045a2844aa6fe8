"""``skyfence latency`` end to end on a tiny run, and clear errors for malformed input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyfence.cli import main as cli_main
from skyfence.commands import app

DATA = Path(__file__).resolve().parents[1] / "data" / "hypatia-kuiper-630"
HYPATIA = [
    "--elements",
    str(DATA / "tles.txt"),
    "--isl",
    str(DATA / "isls.txt"),
    "--ground",
    str(DATA / "ground_stations.txt"),
    "--gsl-max-range-km",
    "1260",
    "--isl-max-length-km",
    "5442.9582030362869",
    "--start",
    "2000-01-01T00:00:00Z",
    "--earth-rotation",
    "utc",
]


def main(args: list[str]) -> int:
    """``skyfence latency ARGS`` (while ``latency`` is the only command, Typer runs it without its name)."""
    if len(app.registered_commands) > 1 or app.registered_callback is not None:
        return cli_main(["latency", *args])
    return cli_main(args)


def _hypatia_rtt(src: str, dst: str) -> dict[int, float]:
    with open(DATA / "rtt.csv", newline="") as fh:
        return {
            int(r["t_ns"]): float(r["rtt_ms"])
            for r in csv.DictReader(fh)
            if (r["src_gs"], r["dst_gs"]) == (src, dst)
        }


def test_tiny_run_matches_hypatia_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "rtt.csv"
    png = tmp_path / "rtt.png"
    code = main(
        [
            *HYPATIA,
            "--pairs",
            "Moskva-(Moscow),Paris;9,27",
            "--duration",
            "0.3",
            "--step",
            "0.1",
            "--out",
            str(out),
            "--plot",
            str(png),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Paris" in captured.out
    df = pd.read_csv(out)
    assert list(df.columns) == ["t_utc", "src", "dst", "rtt_ms", "hops", "path", "fibre_rtt_ms"]
    assert len(df) == 6
    assert df["t_utc"].iloc[0] == "2000-01-01T00:00:00.000000Z"
    ref_mp = _hypatia_rtt("21", "24")
    ref_nl = _hypatia_rtt("9", "27")
    for k, row in df.iterrows():
        t_ns = (k // 2) * 100_000_000
        ref = ref_mp if row["src"] == "Moskva-(Moscow)" else ref_nl
        assert row["rtt_ms"] == pytest.approx(ref[t_ns], abs=1e-3)
    assert df["path"].iloc[0] == "1177-144-143-1180"
    assert df["path"].iloc[1] == "1165-1127-1128-1129-7-41-75-1183"
    # great circles Moscow-Paris ~2,487 km and New York-London ~5,570 km at 2/3 c
    assert df["fibre_rtt_ms"].iloc[0] == pytest.approx(2 * 2487 / 199_861.6 * 1000, rel=5e-3)
    assert df["fibre_rtt_ms"].iloc[1] == pytest.approx(2 * 5570 / 199_861.6 * 1000, rel=5e-3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(tmp_path / "rtt_summary.csv")
    assert len(summary) == 2 and summary["disconnected_share"].tolist() == [0.0, 0.0]
    assert (summary["min_rtt_ms"] <= summary["median_rtt_ms"]).all()


def test_parquet_and_latlon_places(tmp_path, capsys):
    out = tmp_path / "rtt.parquet"
    code = main(
        [
            *HYPATIA,
            "--from",
            "51.5,-0.12",
            "--to",
            "New-York-Newark",
            "--duration",
            "0.2",
            "--step",
            "0.1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    df = pd.read_parquet(out)
    assert (
        len(df) == 2
        and df["src"].iloc[0] == "51.5,-0.12"
        and df["dst"].iloc[0] == "New-York-Newark"
    )
    assert str(df["t_utc"].dt.tz) == "UTC"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "Paris"], "--from and --to go together"),
        (["--from", "Paris", "--to", "Atlantis-City"], "unknown place 'Atlantis-City'"),
        (["--pairs", "Paris;London"], "is not 'SRC,DST'"),
        (["--pairs", "Paris,Paris"], "the same place"),
        (["--pairs", "Paris,London", "--out", "rtt.xlsx"], "use a .csv or .parquet"),
        (["--pairs", "Paris,London", "--start", "yesterday"], "is not an ISO 8601"),
        (["--pairs", "Paris,London", "--step", "-1"], "--step must be positive"),
        (["--pairs", "Paris,London", "--all-pairs"], "exactly one of"),
        (["--pairs", "Paris,London", "--earth-rotation", "tai"], "choose ut1 or utc"),
        (
            ["--pairs", "Paris,London", "--min-elevation-deg", "95"],
            "--min-elevation-deg must be in",
        ),
    ],
)
def test_malformed_inputs_give_clear_errors(args, message, capsys):
    base = [a for a in HYPATIA]
    code = main([*base, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_files_give_clear_errors(tmp_path, capsys):
    bad_gs = tmp_path / "gs.txt"
    bad_gs.write_text("0,Here,10.0,20.0,0\n1,There,north,20.0,0\n")
    code = main(["--elements", str(DATA / "tles.txt"), "--ground", str(bad_gs), "--all-pairs"])
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "latitude 'north'" in err and "Traceback" not in err

    bad_isl = tmp_path / "isls.txt"
    bad_isl.write_text("0 1\n1 99999\n")
    code = main(
        [
            *HYPATIA[:2],
            "--isl",
            str(bad_isl),
            *HYPATIA[4:],
            "--pairs",
            "0,1",
            "--duration",
            "0.1",
            "--step",
            "0.1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "99999" in err and "Traceback" not in err

    code = main([*HYPATIA[:2], "--isl", "mesh", "--pairs", "0,1"])
    err = capsys.readouterr().err
    assert code == 2 and "--isl 'mesh'" in err


def test_all_pairs_of_bundled_cities(tmp_path, capsys):
    out = tmp_path / "all.parquet"
    args = ["--elements", str(DATA / "tles.txt"), "--isl", "plus-grid", "--cities", "top-100"]
    args += ["--all-pairs", "--gsl-max-range-km", "1260", "--isl-max-length-km", "5442.958"]
    args += ["--earth-rotation", "utc"]
    code = main([*args, "--duration", "0.1", "--step", "0.1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "4930 more pairs" in captured.out
    df = pd.read_parquet(out)
    assert len(df) == 4950
    with open(DATA / "rtt.csv", newline="") as fh:
        first = [r for r in csv.DictReader(fh) if r["t_ns"] == "0"]
    assert len(first) == 5
    for r in first:  # the bundled cities (WGS84) are Hypatia's cities (WGS72 ECEF): ~1 m apart
        row = df[(df["src"] == r["src_name"]) & (df["dst"] == r["dst_name"])]
        assert len(row) == 1
        assert row["rtt_ms"].iloc[0] == pytest.approx(float(r["rtt_ms"]), abs=1e-3)
        assert row["path"].iloc[0] == r["path"]


def test_pairs_file_and_missing_files(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# src,dst\nTokyo,New-York-Newark\n21,24\n")
    out = tmp_path / "p.csv"
    code = main(
        [*HYPATIA, "--pairs", str(pairs), "--duration", "0.1", "--step", "0.1", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert df["src"].tolist() == ["Tokyo", "Moskva-(Moscow)"]
    assert df["path"].tolist() == [
        "1156-651-652-653-654-688-722-756-790-791-792-793-1165",
        "1177-144-143-1180",
    ]
    code = main(["--elements", "x", "--ground", str(tmp_path / "nope.txt"), "--all-pairs"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read ground stations file" in err and "Traceback" not in err
    code = main([*HYPATIA, "--cities", "top-100", "--all-pairs"])
    err = capsys.readouterr().err
    assert code == 2 and "--cities or --ground, not both" in err
    code = main(["--elements", "x", "--cities", "top-5", "--all-pairs"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown city list 'top-5'" in err


def test_bent_pipe_through_bundled_gateways(tmp_path, capsys):
    out = tmp_path / "bp.csv"
    args = ["--elements", str(DATA / "tles.txt"), "--isl", "none", "--gateways", "starlink"]
    args += ["--min-elevation-deg", "10", "--gateway-min-elevation-deg", "15"]
    args += ["--pairs", "Seattle,Los-Angeles-Long-Beach-Santa-Ana;Seattle,London"]
    code = main([*args, "--duration", "60", "--step", "10", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert len(df) == 12
    n_sat, n_places = 1156, 3  # Seattle, Los Angeles, London, then 261 gateways
    for row in df.itertuples():
        if row.hops == -1:
            assert np.isnan(row.rtt_ms)
            continue
        nodes = [int(x) for x in row.path.split("-")]
        assert row.hops == len(nodes) - 1 and row.hops % 2 == 0  # ground, sat, ground, sat, ...
        for node in nodes[1:-1:2]:
            assert node < n_sat
        for node in nodes[2:-1:2]:
            assert node >= n_sat + n_places  # only gateways relay
    assert (df["dst"] == "London").sum() == 6 and df[df["dst"] == "London"]["rtt_ms"].isna().all()
    assert df[df["dst"] != "London"]["rtt_ms"].notna().any()
    code = main([*args[:6], "--gateway-min-elevation-deg", "95", "--pairs", "Seattle,London"])
    assert code == 2 and "--gateway-min-elevation-deg must be in" in capsys.readouterr().err
