"""`tui-trainer collapse` as a user runs it: JSON schema, CSV, --out, and exit 2 on bad flags."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "collapse", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_issue_check_mle_json_against_closed_form(subprocess_env):
    proc = _cli(
        "--model gaussian --estimator mle --generations 50 --samples 20 --repeats 400 --seed 0 --json".split(),
        subprocess_env,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"generations", "params"}
    gens = data["generations"]
    assert len(gens) == 50
    assert list(gens[0])[:5] == ["generation", "variance_mean", "variance_median", "w2_mean", "heldout_loss"]
    assert [g["generation"] for g in gens] == list(range(50))
    assert data["params"] == {
        "model": "gaussian",
        "estimator": "mle",
        "generations": 50,
        "samples": 20,
        "repeats": 400,
        "seed": 0,
        "real_fraction": 0.0,
        "accumulate": False,
        "real_per_generation": 0,
    }
    for g in gens:
        assert g["heldout_loss"] is None
        assert g["fits"] == g["generation"] + 1
        assert g["expected"]["variance_mean"] == pytest.approx((19 / 20) ** g["fits"])
        assert abs(g["variance_mean"] - g["expected"]["variance_mean"]) < 4 * g["variance_se"]


def test_unbiased_w2_and_real_fraction_runs(subprocess_env):
    proc = _cli(
        "--estimator unbiased --samples 100 --generations 11 --repeats 2000 --json".split(), subprocess_env
    )
    assert proc.returncode == 0, proc.stderr
    g10 = json.loads(proc.stdout)["generations"][10]
    assert g10["expected"]["w2_first_order"] == pytest.approx(0.165)
    assert abs(g10["w2_mean"] - g10["expected"]["w2_mean"]) < 4 * g10["w2_se"]

    proc = _cli(
        "--estimator unbiased --samples 100 --generations 100 --repeats 400 --real-fraction 0.1 --json".split(),
        subprocess_env,
    )
    last = json.loads(proc.stdout)["generations"][-1]
    assert last["variance_median"] == pytest.approx(1.0, abs=0.2)
    assert last["expected"] == {}  # no closed form claimed once real data is mixed in


def test_csv_has_one_row_per_generation(subprocess_env):
    proc = _cli("--generations 4 --repeats 10 --csv".split(), subprocess_env)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["generation"] for r in rows] == ["0", "1", "2", "3"]
    assert {"variance_mean", "variance_median", "w2_mean", "heldout_loss", "tail_mass_mean"} <= set(rows[0])
    assert rows[0]["heldout_loss"] == ""
    assert float(rows[0]["expected_w2_first_order"]) == pytest.approx(0.015)


def test_out_writes_the_file_and_same_seed_repeats(subprocess_env, tmp_path):
    out = tmp_path / "sub" / "collapse.json"
    proc = _cli(["--generations", "3", "--repeats", "5", "--seed", "7", "--out", str(out)], subprocess_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    again = _cli("--generations 3 --repeats 5 --seed 7 --json".split(), subprocess_env)
    assert json.loads(out.read_text()) == json.loads(again.stdout)
    other = _cli("--generations 3 --repeats 5 --seed 8 --json".split(), subprocess_env)
    assert json.loads(other.stdout)["generations"] != json.loads(again.stdout)["generations"]
    assert [p.name for p in out.parent.iterdir()] == ["collapse.json"]  # no temp file left behind


def test_text_table_by_default(subprocess_env):
    proc = _cli("--model gmm --generations 2 --samples 50 --repeats 2".split(), subprocess_env)
    assert proc.returncode == 0, proc.stderr
    assert "model=gmm" in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "-5"], "--samples"),
        (["--real-fraction", "1.2"], "--real-fraction"),
        (["--real-fraction", "-0.5"], "--real-fraction"),
        (["--generations", "0"], "--generations"),
        (["--repeats", "-1"], "--repeats"),
        (["--model", "vae"], "--model"),
        (["--samples", "ten"], "--samples"),
        (["--json", "--csv"], "--csv"),
    ],
)
def test_bad_flags_exit_2_with_a_message(subprocess_env, args, message):
    proc = _cli(args, subprocess_env)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_out_to_a_directory_is_refused(subprocess_env, tmp_path):
    proc = _cli(["--generations", "2", "--out", str(tmp_path)], subprocess_env)
    assert proc.returncode == 2
    assert "--out" in proc.stderr and "directory" in proc.stderr
