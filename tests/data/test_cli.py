"""`tui-trainer inspect` as a user runs it: JSON counts against pandas, bad input exits 2 naming the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import SAMPLE_DATA


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", "inspect", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def _generated(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.normal(10, 2, n)
    x[rng.random(n) < 0.01] = np.nan
    x[:6] = [40, -30, 35, 25, -20, 60]
    df = pl.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 100, n),
            "cat": rng.choice(["a", "b", "c", None], n),
            "label": rng.choice(["yes", "no"], n, p=[0.85, 0.15]),
        }
    )
    df = pl.concat([df, df.slice(100, 25)])
    path = tmp_path / "gen.csv"
    df.write_csv(path)
    return path


def test_json_counts_match_pandas(tmp_path: Path, subprocess_env):
    import pandas as pd  # a dev dependency: the independent reference
    from scipy import stats

    path = _generated(tmp_path)
    result = run_cli([str(path), "--label", "label", "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    frame = pd.read_csv(path)
    assert doc["rows"] == len(frame)
    columns = {c["name"]: c for c in doc["columns"]}
    findings = {(f["id"], tuple(f["columns"])): f for f in doc["findings"]}
    for name in frame.columns:
        assert columns[name]["missing"] == int(frame[name].isna().sum())
    assert findings[("duplicates", tuple(frame.columns))]["count"] == int(frame.duplicated().sum()) >= 25
    for name in ("x", "k"):
        values = frame[name].dropna().to_numpy(dtype=float)
        z = int((np.abs(stats.zscore(values)) > 3).sum())
        q1, q3 = np.percentile(values, [25, 75])
        iqr = int(((values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1))).sum())
        assert columns[name]["outliers_zscore"] == z
        assert columns[name]["outliers_iqr"] == iqr
        assert findings.get(("outliers_zscore", (name,)), {"count": 0})["count"] == z
    imbalance = findings[("imbalance", ("label",))]
    assert imbalance["class_counts"] == {k: int(v) for k, v in frame["label"].value_counts().items()}
    assert doc["class_counts"] == imbalance["class_counts"] and doc["label"] == "label"
    assert imbalance["severity"] in ("warning", "ok") and imbalance["ratio"] > 1
    for finding in doc["findings"]:
        assert {"id", "severity", "columns", "count", "examples"} <= set(finding)


def test_text_report_on_sample_penguins(subprocess_env):
    result = run_cli([str(SAMPLE_DATA / "penguins.csv"), "--label", "species"], subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "344 rows x 8 columns" in result.stdout
    assert "sex: 11 missing values" in result.stdout


BAD_INPUTS = {
    "missing": (None, "no such file"),
    "empty.csv": (b"", "empty"),
    "binary.csv": (bytes(range(256)) * 4, "binary"),
    "latin1.csv": ("name,city\nJosé,Zürich\n".encode("latin-1"), "line 2"),
    "ragged.csv": (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields"),
    "mixed.csv": (b"a,b\n1,x\n2,3\n4,5\n", "mixed types"),
    "unparsable.csv": (b"v,w\n" + b"".join(b"%d,1\n" % i for i in range(30)) + b"1.2.3,1\n", "line 32"),
    "late.csv": (b"v\n" + b"".join(b"%d\n" % i for i in range(10_050)) + b"oops\n", "line 10052"),
    "parquet_as.csv": ("PARQUET", "Parquet"),
    "broken.parquet": (b"PAR1 not really", "Parquet"),
    "text.parquet": (b"a,b\n1,2\n", "not a Parquet file"),
    "broken.ndjson": (b'{"a": 1}\n{"a": \n', "line 2"),
    "mixed.json": (b'[{"a": 1}, {"a": "x"}, {"a": 3}]', "mixed types"),
    "broken.arrow": (b"not arrow at all", "Arrow"),
    "notes.xyz": (b"hello", "unknown file type"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file(name: str, tmp_path: Path, subprocess_env):
    content, expected = BAD_INPUTS[name]
    path = tmp_path / ("nope.csv" if name == "missing" else name)
    if content == "PARQUET":
        pl.DataFrame({"a": [1, 2]}).write_parquet(path)
    elif content is not None:
        path.write_bytes(content)
    result = run_cli([str(path)], subprocess_env)
    assert result.returncode == 2, result.stdout
    assert str(path) in result.stderr
    assert expected.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_exits_2(tmp_path: Path, subprocess_env):
    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")
    path.chmod(0)
    result = run_cli([str(path)], subprocess_env)
    assert result.returncode == 2 and "permission denied" in result.stderr and str(path) in result.stderr


def test_permission_denied_is_reported_in_process(tmp_path: Path, monkeypatch):
    from tui_trainer.data import load
    from tui_trainer.errors import UserError

    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")
    monkeypatch.setattr(load.os, "access", lambda *_a, **_k: False)
    with pytest.raises(UserError, match="permission denied") as err:
        load.open_dataset(path)
    assert str(path) in str(err.value)


def test_unknown_label_exits_2(tmp_path: Path, subprocess_env):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    result = run_cli([str(path), "--label", "nope"], subprocess_env)
    assert result.returncode == 2 and "'nope'" in result.stderr


def test_threshold_flag_and_table(tmp_path: Path, subprocess_env):
    path = tmp_path / "d.csv"
    path.write_text("v\n" + "".join(f"{i % 10}\n" for i in range(50)) + "40\n60\n")
    table = tmp_path / "t.toml"
    table.write_text("[thresholds]\nzscore = 50\n")
    default = json.loads(run_cli([str(path), "--json"], subprocess_env).stdout)
    relaxed = json.loads(run_cli([str(path), "--json", "--thresholds", str(table)], subprocess_env).stdout)
    flagged = json.loads(
        run_cli([str(path), "--json", "--thresholds", str(table), "--zscore", "3"], subprocess_env).stdout
    )
    assert default["columns"][0]["outliers_zscore"] == 2
    assert relaxed["columns"][0]["outliers_zscore"] == 0
    assert flagged["columns"][0]["outliers_zscore"] == 2
    table.write_text("[thresholds]\nzscor = 50\n")
    bad = run_cli([str(path), "--thresholds", str(table)], subprocess_env)
    assert bad.returncode == 2 and "zscor" in bad.stderr


def test_against_and_provenance_from_the_command_line(tmp_path: Path, subprocess_env):
    rng = np.random.default_rng(5)
    train = pl.DataFrame(
        {
            "x": rng.normal(size=400),
            "source": ["real"] * 380 + ["synthetic"] * 20,
        }
    )
    test = pl.concat(
        [train.slice(0, 12), pl.DataFrame({"x": rng.normal(3, 1, 200), "source": ["real"] * 200})]
    )
    train_path, test_path = tmp_path / "train.parquet", tmp_path / "test.ndjson"
    train.write_parquet(train_path)
    test.write_ndjson(test_path)
    result = run_cli(
        [str(train_path), "--against", str(test_path), "--provenance", "source", "--json"], subprocess_env
    )
    assert result.returncode == 0, result.stderr
    findings = {(f["id"], tuple(f["columns"])): f for f in json.loads(result.stdout)["findings"]}
    assert findings[("leakage", ("x", "source"))]["count"] == 12
    assert (
        findings[("drift", ("x",))]["p_value"] < 1e-6 and findings[("drift", ("x",))]["severity"] == "warning"
    )
    share = findings[("synthetic_share", ("source",))]
    assert share["count"] == 20 and share["share"] == 0.05 and "--real-fraction 0.95" in share["fix"]
    missing = run_cli([str(train_path), "--against", str(tmp_path / "nope.csv")], subprocess_env)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
