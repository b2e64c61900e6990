"""Honest refusals and bounded work: ragged rows, CR-only files, content that is not its extension, thresholds,
and crafted inputs (deep JSON, 200,000 columns, a PNG declaring 60000 x 60000) — exit 2, quickly, small."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLE_DATA
from tests.fuzz.corpus import png_declaring

PENGUINS = SAMPLE_DATA / "penguins.csv"


def inspect_cli(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run `inspect`, returning the result, its wall time and the child's peak RSS in bytes."""
    code = (
        "import sys\n"
        "from tui_trainer.cli import main\n"
        "try:\n    rc = main(['inspect', *sys.argv[1:]])\n"
        "except SystemExit as exc:\n    rc = exc.code\n"
        # VmHWM is this process's own peak; ru_maxrss would include the forking pytest process's pages.
        "peak = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "sys.stderr.write(f'\\nPEAK_RSS={peak}\\n')\n"
        "sys.exit(rc)\n"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    elapsed = time.perf_counter() - start
    peak = int(result.stderr.rsplit("PEAK_RSS=", 1)[1].split()[0]) if "PEAK_RSS=" in result.stderr else 0
    return result, elapsed, peak


def _error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    return result.stderr


def test_short_rows_exit_2_naming_the_line(tmp_path: Path, subprocess_env):
    lines = PENGUINS.read_text(encoding="utf-8").splitlines()
    lines[10] = ",".join(lines[10].split(",")[:5])  # a row cut short, as a truncated export leaves it
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, _, _ = inspect_cli([str(path)], subprocess_env)
    assert "line 11 has 5 fields but the header has 8" in _error(result)
    # Empty trailing cells written out (`a,b,`) are missing values, not short rows.
    ok, _, _ = inspect_cli([str(PENGUINS)], subprocess_env)
    assert ok.returncode == 0, ok.stderr


def test_cr_only_line_endings_read_every_row(tmp_path: Path, subprocess_env):
    path = tmp_path / "classic_mac.csv"
    path.write_bytes(PENGUINS.read_bytes().replace(b"\n", b"\r"))
    result, _, _ = inspect_cli([str(path), "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    frame = pd.read_csv(PENGUINS)
    assert doc["rows"] == len(frame) == 344
    columns = {c["name"]: c for c in doc["columns"]}
    assert columns["sex"]["missing"] == int(frame["sex"].isna().sum())
    assert columns["body_mass_g"]["mean"] == pytest.approx(frame["body_mass_g"].mean())


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("array.csv", json.dumps([{"a": i, "b": str(i)} for i in range(50)])),
        ("lines.csv", "\n".join(json.dumps({"a": i}) for i in range(50))),
        ("array.tsv", '[\n  {"a": 1}\n]'),
    ],
)
def test_json_content_named_csv_exits_2_naming_it(tmp_path: Path, subprocess_env, name: str, content: str):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result, _, _ = inspect_cli([str(path)], subprocess_env)
    message = _error(result)
    assert str(path) in message and "content is JSON" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--zscore", "-1"], "--zscore: threshold 'zscore' must be a number > 0"),
        (["--zscore", "nan"], "must be a number > 0, not nan"),
        (["--iqr", "inf"], "'iqr' must be a number > 0, not inf"),
        (["--missing", "1.5"], "'missing' must be a number in [0, 1]"),
        (["--imbalance", "0.5"], "'imbalance' must be a number >= 1"),
        (["--drift-p", "0"], "'drift_p' must be a number in (0, 1)"),
        (["--high-cardinality", "0"], "'high_cardinality' must be an integer >= 1"),
    ],
)
def test_thresholds_are_validated(subprocess_env, args: list[str], expected: str):
    result, _, _ = inspect_cli([str(PENGUINS), *args], subprocess_env)
    assert expected in _error(result)


def test_thresholds_table_is_validated_with_its_file(tmp_path: Path, subprocess_env):
    table = tmp_path / "t.toml"
    table.write_text("[thresholds]\nzscore = -3\n", encoding="utf-8")
    result, _, _ = inspect_cli([str(PENGUINS), "--thresholds", str(table)], subprocess_env)
    assert f"{table} [thresholds]: threshold 'zscore' must be a number > 0" in _error(result)


def test_deeply_nested_json_and_its_ndjson_twin_are_refused_fast_and_small(tmp_path: Path, subprocess_env):
    deep = "[" * 3000 + "]" * 3000  # 6 KB
    array = tmp_path / "deep.json"
    array.write_text(f'[{{"a": 1, "b": {deep}}}]', encoding="utf-8")
    lines = tmp_path / "deep.ndjson"
    lines.write_text('{"a": 1}\n{"a": 2}\n' + f'{{"a": {deep}}}\n', encoding="utf-8")
    for path, line in ((array, 1), (lines, 3)):
        result, elapsed, peak = inspect_cli([str(path)], subprocess_env)
        message = _error(result)
        assert f"line {line}: JSON nested more than 64 levels deep" in message and "--max-depth" in message
        assert elapsed < 20 and peak < 600 * 2**20
    # Raising the limit is allowed, and a legitimately nested table is read.
    nested = tmp_path / "nested.ndjson"
    nested.write_text("".join(json.dumps({"a": {"b": {"c": [i, i + 1]}}, "k": i}) + "\n" for i in range(50)))
    ok, _, _ = inspect_cli([str(nested)], subprocess_env)
    assert ok.returncode == 0, ok.stderr


def test_very_wide_csv_is_refused_with_the_limit_and_the_flag(tmp_path: Path, subprocess_env):
    wide = tmp_path / "wide.csv"
    names = ",".join(f"c{i}" for i in range(200_000))
    wide.write_text(names + "\n" + ",".join("1" for _ in range(200_000)) + "\n", encoding="utf-8")  # 1.9 MB
    result, elapsed, peak = inspect_cli([str(wide)], subprocess_env)
    message = _error(result)
    assert "200,000 columns, over the limit of 10,000" in message and "--max-columns 200000" in message
    assert elapsed < 20 and peak < 600 * 2**20


def test_two_thousand_columns_profile_in_bounded_time(tmp_path: Path, subprocess_env):
    # The 5,000-column case measured 16 s on the 2-core dev box (docs/data-findings.md); 2,000 here keeps CI quick.
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 2000)).round(3), columns=[f"f{i}" for i in range(2000)])
    path = tmp_path / "wide2k.csv"
    frame.to_csv(path, index=False)
    result, elapsed, _ = inspect_cli([str(path), "--json"], subprocess_env, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["columns"]) == 2000 and doc["rows"] == 200
    assert doc["columns"][1999]["mean"] == pytest.approx(frame["f1999"].mean())
    assert elapsed < 30


def test_image_folder_with_a_huge_declared_png_is_refused_before_decoding(tmp_path: Path, subprocess_env):
    import shutil

    folder = tmp_path / "images"
    shutil.copytree(SAMPLE_DATA / "digits" / "3", folder / "3")
    (folder / "3" / "bomb.png").write_bytes(png_declaring(60000, 60000))
    result, elapsed, peak = inspect_cli([str(folder)], subprocess_env)
    message = _error(result)
    assert "bomb.png" in message and "3,600,000,000 pixels" in message and "--max-pixels" in message
    assert elapsed < 20 and peak < 600 * 2**20
    # Under Pillow's own bomb threshold but over a lowered limit: refused from the header with its size.
    (folder / "3" / "bomb.png").write_bytes(png_declaring(5000, 5000))
    result, _, _ = inspect_cli([str(folder), "--max-pixels", "1000000"], subprocess_env)
    assert "declares 5000×5000 = 25,000,000 pixels, over the limit of 1,000,000" in _error(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", "-1"], "--seed -1: must be an integer from 0"),
        (["--max-depth", "0"], "--max-depth 0: must be a positive integer"),
        (["--na-values", ","], "--na-values: give one or more comma-separated tokens"),
        (["--date-format", "day first"], "--date-format 'day first': expected a strftime format"),
    ],
)
def test_reading_flags_are_validated(subprocess_env, args: list[str], expected: str):
    result, _, _ = inspect_cli([str(PENGUINS), *args], subprocess_env)
    assert expected in _error(result)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_tricky = st.sampled_from(["a[\\", ']}"{', "\\\\", 'x"y', "\\", "[[[", "}}}", 1, None, 2.5])
_json = st.recursive(
    _tricky,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["k", "[", '\\"}']), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_json, chunk=st.integers(min_value=1, max_value=24))
def test_json_depth_scan_equals_the_parsed_depth(tmp_path: Path, monkeypatch, value, chunk: int):
    # Brackets and escaped quotes inside strings, split across chunk edges, never change the depth.
    from tui_trainer.data import limits

    monkeypatch.setattr(limits, "_DEPTH_CHUNK", chunk)
    path = tmp_path / "v.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    assert limits.json_depth(path, 10_000)[0] == _depth(value)


def test_a_header_without_rows_is_an_empty_finding(tmp_path: Path, subprocess_env):
    path = tmp_path / "header_only.csv"
    path.write_text(PENGUINS.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    result, _, _ = inspect_cli([str(path), "--json"], subprocess_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["rows"] == 0 and [f["id"] for f in doc["findings"]] == ["empty"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("lines.json", "".join(json.dumps({"a": i}) + "\n" for i in range(5)), "the content is NDJSON"),
        ("array.ndjson", json.dumps([{"a": i} for i in range(5)], indent=2), "the content is a JSON array"),
        ("one_line_array.ndjson", json.dumps([{"a": i} for i in range(5)]), "the content is a JSON array"),
    ],
)
def test_json_and_ndjson_swapped_exit_2_naming_the_right_extension(
    tmp_path: Path, subprocess_env, name: str, content: str, expected: str
):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result, _, _ = inspect_cli([str(path)], subprocess_env)
    assert expected in _error(result)


def test_fifo_named_like_an_image_is_skipped_not_waited_on(tmp_path: Path, subprocess_env):
    import os
    import shutil

    folder = tmp_path / "images"
    shutil.copytree(SAMPLE_DATA / "digits" / "3", folder / "3")
    count = len(list((folder / "3").iterdir()))
    os.mkfifo(folder / "3" / "pipe.png")  # opening it for reading would block until a writer came
    result, elapsed, _ = inspect_cli([str(folder), "--json"], subprocess_env, timeout=30)
    assert result.returncode in (0, 1), result.stderr
    assert elapsed < 20
    assert json.loads(result.stdout)["rows"] == count


def test_a_csv_field_of_several_megabytes_is_data_not_an_error(tmp_path: Path, subprocess_env):
    path = tmp_path / "notes.csv"
    big = "x" * (4 * 1024 * 1024)
    path.write_text(f"id,note\n1,short\n2,{big}\n3,also short\n", encoding="utf-8")
    result, _, _ = inspect_cli([str(path), "--json"], subprocess_env)
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["rows"] == len(pd.read_csv(path))
