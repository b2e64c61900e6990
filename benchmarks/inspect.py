"""Benchmark `tui-trainer inspect` on a generated N x 12 file: profile + all findings, peak RSS, baselines.

Usage: python benchmarks/inspect.py [--rows N] [--stream] [--format parquet|csv] [--skip-pandas] [--keep DIR]
                                    [--floor-budget GIB] [--rounds R]
Each measurement runs in a fresh child process so its peak RSS (ru_maxrss) is its own. Targets
(issue 4): 10M rows within 12 s and 4 GB on a 2-core machine; first page in under 1 s.
--stream forces the streamed, bounded-memory path (what a file bigger than a quarter of free RAM gets).
Above 10M rows the script also measures the streamed path at 10M and prints, per size, its time, its peak
RSS and its time against linear growth from 10M (issue 16: peak flat, time <= 1.2x linear at 100M).
Ratios are against the eager Polars floor (the same statistics hand-written in eager Polars on the file
read into memory), run at the largest size whose estimated peak fits the floor budget (default 70% of
available memory; estimate: the floor's peak per row at 1M rows, which overstates it); a floor run that
passes the budget anyway is stopped and the next smaller size tried.
Files are written in fixed chunks of CHUNK_ROWS rows, each from its own seeded generator, so generating
any size takes one chunk's memory, and a smaller file is the first rows of a larger one.
"""

from __future__ import annotations

import sys

# This file is named like the stdlib `inspect`; drop its folder from the path so numpy & co. get the real one.
sys.path[:] = [
    p for p in sys.path if p not in ("", __file__.rsplit("/", 1)[0]) and not p.endswith("benchmarks")
]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

FLOATS = [f"f{i}" for i in range(8)]
CATEGORIES = ["cat_a", "cat_b", "cat_c"]
CHUNK_ROWS = 1_000_000  # rows generated (and one Parquet row group) at a time
REFERENCE_ROWS = 10_000_000  # the size that "linear" time is scaled from
CALIBRATION_ROWS = 1_000_000  # the floor's peak per row is measured here
DUPLICATE_SHARE = 200  # one row in 200 repeats an earlier row of its chunk


def chunk_frame(index: int, rows: int, seed: int = 0):
    """Chunk `index` of the generated data: `rows` rows, the same for the same (seed, index) at any file size."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng([seed, index])
    unique_rows = rows - rows // DUPLICATE_SHARE
    data: dict[str, object] = {}
    for i, name in enumerate(FLOATS):
        x = rng.normal(loc=i, scale=1 + i, size=unique_rows)
        outliers = rng.random(unique_rows) < 0.005
        x[outliers] += rng.choice([-1, 1], outliers.sum()) * (10 + i) * (1 + i)
        x[rng.random(unique_rows) < 0.01] = np.nan  # written as null below
        data[name] = x
    data["cat_a"] = pl.Series(["red", "green", "blue", "yellow"]).gather(rng.integers(0, 4, unique_rows))
    data["cat_b"] = pl.Series([f"city_{k}" for k in range(200)]).gather(rng.integers(0, 200, unique_rows))
    data["cat_c"] = pl.Series(["x", "y"]).gather((rng.random(unique_rows) >= 0.7).astype(np.int64))
    data["label"] = rng.choice([0, 1, 2], unique_rows, p=[0.9, 0.08, 0.02])
    frame = pl.DataFrame(data).with_columns(pl.col(FLOATS).fill_nan(None))
    repeats = frame[rng.integers(0, unique_rows, rows - unique_rows)]
    return pl.concat([frame, repeats])


def expected_duplicates(rows: int) -> int:
    """Duplicate rows the generator writes (its float columns make other repeats vanishingly unlikely)."""
    full, last = divmod(rows, CHUNK_ROWS)
    return full * (CHUNK_ROWS // DUPLICATE_SHARE) + last // DUPLICATE_SHARE


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write `rows` generated rows to `path` (.parquet or .csv) one chunk at a time (bounded memory)."""
    # Written beside it and renamed when complete: an interrupted run leaves no torn file to reuse.
    part = path.with_name(path.name + ".part")
    chunks = range(0, rows, CHUNK_ROWS)
    if path.suffix == ".csv":
        with part.open("wb") as out:
            for index, start in enumerate(chunks):
                chunk_frame(index, min(CHUNK_ROWS, rows - start), seed).write_csv(
                    out, include_header=index == 0
                )
    else:
        import pyarrow.parquet as pq

        writer = None
        try:
            for index, start in enumerate(chunks):
                table = chunk_frame(index, min(CHUNK_ROWS, rows - start), seed).to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(part, table.schema, compression="zstd")
                writer.write_table(table, row_group_size=CHUNK_ROWS)
        finally:
            if writer is not None:
                writer.close()
    part.replace(path)


CHILD_INSPECT = """
import json, resource, sys, time
t0 = time.perf_counter()
from tui_trainer.data.report import inspect_dataset, to_json
if len(sys.argv) > 2 and sys.argv[2] == "stream":
    import tui_trainer.data.report as report
    report._fits = lambda _path: False  # as for a file too big for memory
inspection = inspect_dataset(sys.argv[1], label="label")
data = to_json(inspection)
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
rss, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss": rss, "rows": data["rows"], "findings": len(data["findings"]),
                  "duplicates": data["duplicates"], "engine": inspection.engine}))
"""

CHILD_POLARS = """
import json, resource, sys, time
t0 = time.perf_counter()
import polars as pl
path = sys.argv[1]
df = pl.read_csv(path) if path.endswith(".csv") else pl.read_parquet(path)
out = {"rows": df.height, "duplicates": df.height - df.unique().height}
for name, dtype in df.schema.items():
    s = df[name]
    col = {"nulls": s.null_count(), "unique": s.drop_nulls().n_unique()}
    if dtype.is_numeric():
        v = s.drop_nulls().cast(pl.Float64)
        q1, q3 = v.quantile(0.25, "linear"), v.quantile(0.75, "linear")
        mean, std0 = v.mean(), v.std(ddof=0)
        col.update(mean=mean, std=v.std(), min=v.min(), max=v.max(), median=v.median(), skew=v.skew(),
                   zeros=int((v == 0).sum()), z=int((((v - mean) / std0).abs() > 3).sum()),
                   iqr=int(((v < q1 - 1.5 * (q3 - q1)) | (v > q3 + 1.5 * (q3 - q1))).sum()),
                   hist=v.hist(bin_count=20)["count"].to_list())
    else:
        col["top"] = s.value_counts(sort=True).head(5).rows()
    out[name] = col
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
rss, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss": rss, "duplicates": out["duplicates"]}))
"""

CHILD_PANDAS = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
import pandas as pd
path = sys.argv[1]
df = pd.read_csv(path) if path.endswith(".csv") else pd.read_parquet(path)
out = {"rows": len(df), "duplicates": int(df.duplicated().sum())}
for name in df.columns:
    s = df[name]
    col = {"nulls": int(s.isna().sum()), "unique": int(s.nunique())}
    if s.dtype.kind in "fi":
        v = s.dropna().to_numpy(dtype=float)
        mean, std0 = v.mean(), v.std()
        q1, q3 = np.percentile(v, [25, 75])
        col.update(mean=float(v.mean()), std=float(s.std()), min=float(v.min()), max=float(v.max()),
                   zeros=int((v == 0).sum()), skew=float(s.skew()),
                   z=int((np.abs((v - mean) / std0) > 3).sum()),
                   iqr=int(((v < q1 - 1.5 * (q3 - q1)) | (v > q3 + 1.5 * (q3 - q1))).sum()),
                   hist=np.histogram(v, bins=20)[0].tolist())
    else:
        col["top"] = s.value_counts().head(5).to_dict()
    out[name] = col
out["class_counts"] = df["label"].value_counts().to_dict()
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak_rss": rss}))
"""

CHILD_FIRST_PAGE = """
import json, resource, sys, time
t0 = time.perf_counter()
from tui_trainer.data.load import open_dataset
from tui_trainer.data.paging import Pager
pager = Pager(open_dataset(sys.argv[1]).lazy)
page = pager.page(0, 50)
total = pager.total_rows()
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows_shown": page.height, "total": total}))
"""


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def child(
    code: str, path: Path, baseline: str | None = None, *args: str, rss_limit: int | None = None
) -> dict | None:
    """Run one measurement in a fresh interpreter; a baseline that cannot run is reported, not fatal.

    With `rss_limit` (bytes) the child is stopped once its resident memory passes it, so a baseline too big
    for this machine fails on its own instead of pushing the machine into swap or the OOM killer.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(path), *args], stdout=out, stderr=err, text=True
        )
        over = False
        while proc.poll() is None:
            if rss_limit is not None and _rss(proc.pid) > rss_limit:
                proc.kill()
                over = True
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        if baseline is None:
            raise SystemExit(f"child failed:\n{stderr}")
        last = (stderr.strip().splitlines() or ["no message"])[-1]
        if over:
            assert rss_limit is not None
            print(f"{baseline}: stopped at {rss_limit / 2**30:.1f} GiB resident (the budget) on {path.name}")
        elif "No module named" in last or "Unable to find a usable engine" in last:
            print(f"{baseline}: not run ({last[:160]}); install the bench extra: pip install -e '.[bench]'")
        else:
            print(f"{baseline}: failed ({last[:200]})")
        return {"failed": True, "over_budget": over}
    return json.loads(stdout.strip().splitlines()[-1])


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def available_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def fitting_sizes(rows: int, per_row: float, budget: float) -> list[int]:
    """Sizes to try for the floor, largest first: `rows` if its estimate fits, else multiples of 5M (1M
    below 10M) under the budget, down to the calibration size."""
    fit = int(budget / per_row)
    if fit >= rows:
        return [rows]
    step = 5_000_000 if fit >= REFERENCE_ROWS else CHUNK_ROWS
    top = fit // step * step
    sizes = list(range(top, 0, -step)) if top else []
    return [s for s in sizes if s >= CALIBRATION_ROWS] or [CALIBRATION_ROWS]


class Files:
    """Generated files by size in one folder (reused with --keep)."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder, self.suffix = folder, suffix

    def __call__(self, rows: int) -> Path:
        path = self.folder / f"bench_{rows}.{self.suffix}"
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, rows)
            size = path.stat().st_size / 2**30
            print(
                f"generated {path.name}: {rows:,} rows x 12 columns, {size:.2f} GiB, in "
                f"{time.perf_counter() - t0:.1f} s ({CHUNK_ROWS:,}-row chunks)",
                flush=True,
            )
        return path


def streamed(files: Files, rows: int, cache: dict[int, dict]) -> dict:
    if rows not in cache:
        got = child(CHILD_INSPECT, files(rows), None, "stream")
        assert got is not None
        got["load"] = load()
        cache[rows] = got
        print(
            f"  streamed inspect at {rows:,} rows: {got['seconds']:.1f} s ({got['cpu_seconds']:.0f} s CPU), peak RSS "
            f"{got['peak_rss'] / 2**30:.2f} GiB ({got['load']})",
            flush=True,
        )
    return cache[rows]


def check_duplicates(rows: int, got: dict) -> str:
    want = expected_duplicates(rows)
    return "" if got.get("duplicates") == want else f" (MISMATCH: the generator wrote {want:,})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=REFERENCE_ROWS)
    parser.add_argument("--skip-pandas", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--stream", action="store_true", help="force the streamed, bounded-memory path (as for huge files)"
    )
    parser.add_argument(
        "--format", choices=("parquet", "csv"), default="parquet", help="generated file format"
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="generate (or reuse) the files in DIR instead of a temp dir"
    )
    parser.add_argument(
        "--floor-budget",
        type=float,
        metavar="GIB",
        help="memory the eager Polars floor may use (default: 70%% of available memory)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="interleaved rounds of streamed path vs floor (median ratio)"
    )
    args = parser.parse_args()
    print(f"start: {load()}, {available_memory() / 2**30:.1f} GiB available", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = Files(folder, args.format)
        path = files(args.rows)
        page = child(CHILD_FIRST_PAGE, path)
        assert page is not None
        print(
            f"first page: {page['rows_shown']} rows of {page['total']:,} in {page['seconds']:.3f} s (target < 1 s)"
        )
        ours = child(CHILD_INSPECT, path, None, "stream" if args.stream else "auto")
        assert ours is not None
        ours["load"] = load()
        print(
            f"inspect (profile + all findings, --label label, {ours['engine']} path): {ours['seconds']:.2f} s "
            f"({ours['cpu_seconds']:.0f} s CPU), "
            f"peak RSS {ours['peak_rss'] / 2**30:.2f} GiB, {ours['findings']} findings, "
            f"{ours['duplicates']:,} duplicate rows{check_duplicates(args.rows, ours)} "
            f"(target: 12 s / 4 GB at 10M rows; {ours['load']})",
            flush=True,
        )
        runs: dict[int, dict] = {args.rows: ours} if ours["engine"] == "streaming" else {}

        # The floor: at --rows if it fits the budget, else at the largest size that does.
        budget = args.floor_budget * 2**30 if args.floor_budget else 0.7 * available_memory()
        calibration = child(CHILD_POLARS, files(CALIBRATION_ROWS), "eager Polars floor")
        floor, floor_rows = None, None
        if calibration is not None and not calibration.get("failed"):
            per_row = calibration["peak_rss"] / CALIBRATION_ROWS
            for size in fitting_sizes(args.rows, per_row, budget):
                if size == CALIBRATION_ROWS and size != args.rows:
                    got = calibration
                else:
                    got = child(CHILD_POLARS, files(size), "eager Polars floor", rss_limit=int(budget))
                if got is not None and not got.get("failed"):
                    floor, floor_rows = got, size
                    break
                if got is not None and not got.get("over_budget"):
                    break
            if floor_rows is not None and floor_rows != args.rows:
                print(
                    f"eager Polars floor: {args.rows:,} rows would need ~{per_row * args.rows / 2**30:.1f} GiB "
                    f"(its peak per row at {CALIBRATION_ROWS:,}), over the {budget / 2**30:.1f} GiB budget; "
                    f"measured at {floor_rows:,} rows, the largest size that fits"
                )
        if floor is not None and floor_rows is not None:
            if floor_rows == args.rows and ours["engine"] != "streaming":
                print(
                    f"eager Polars floor (same statistics, file in memory) at {floor_rows:,} rows: "
                    f"{floor['seconds']:.2f} s, peak RSS {floor['peak_rss'] / 2**30:.2f} GiB; tui-trainer "
                    f"({ours['engine']} path) takes {ours['seconds'] / floor['seconds']:.2f}x its time and "
                    f"{ours['peak_rss'] / floor['peak_rss']:.2f}x its peak memory"
                )
            # The streamed path against the floor, rounds interleaved (ours, floor, ours, ...): median ratios.
            mine = [streamed(files, floor_rows, runs)]
            floors = [floor]
            for _ in range(args.rounds - 1):
                mine.append(streamed(files, floor_rows, {}))
                again = child(CHILD_POLARS, files(floor_rows), "eager Polars floor", rss_limit=int(budget))
                if again is None or again.get("failed"):
                    break
                floors.append(again)
            times = [m["seconds"] / f["seconds"] for m, f in zip(mine, floors, strict=False)]
            cpus = [m["cpu_seconds"] / f["cpu_seconds"] for m, f in zip(mine, floors, strict=False)]
            peaks = [m["peak_rss"] / f["peak_rss"] for m, f in zip(mine, floors, strict=False)]
            print(
                f"eager Polars floor at {floor_rows:,} rows: {statistics.median(f['seconds'] for f in floors):.2f} s, "
                f"peak RSS {max(f['peak_rss'] for f in floors) / 2**30:.2f} GiB; the streamed path takes "
                f"{statistics.median(times):.2f}x its time ({statistics.median(cpus):.2f}x its CPU time) and "
                f"{statistics.median(peaks):.2f}x its peak memory "
                f"(median of {len(times)} interleaved round(s); {load()})",
                flush=True,
            )

        if args.rows >= REFERENCE_ROWS:
            if args.rows not in runs:
                streamed(files, args.rows, runs)
            reference = streamed(files, REFERENCE_ROWS, runs)
            # CPU seconds (all threads) beside wall time: on a shared machine the wall time of a long run
            # follows the other users' load, its CPU time far less.
            print("streamed path (profile + all findings, --label label), per size:")
            print(
                f"  {'rows':>13}  {'time':>8}  {'CPU':>8}  {'peak RSS':>9}  time / linear from "
                f"{REFERENCE_ROWS:,} (wall, CPU)"
            )
            for size in sorted(runs):
                got = runs[size]
                scale = size / REFERENCE_ROWS
                wall = got["seconds"] / (reference["seconds"] * scale)
                cpu = got["cpu_seconds"] / (reference["cpu_seconds"] * scale)
                print(
                    f"  {size:>13,}  {got['seconds']:>6.1f} s  {got['cpu_seconds']:>6.0f} s  "
                    f"{got['peak_rss'] / 2**30:>5.2f} GiB  {wall:.2f}x, {cpu:.2f}x"
                    f"{check_duplicates(size, got)}  ({got['load']})"
                )
            top, peak = runs[args.rows], max(r["peak_rss"] for r in runs.values()) / 2**30
            scale = args.rows / REFERENCE_ROWS
            print(
                f"streamed at {args.rows:,} rows: peak RSS {top['peak_rss'] / 2**30:.2f} GiB (largest over the "
                f"sizes {peak:.2f} GiB; target <= 2 GiB), time {top['seconds'] / (reference['seconds'] * scale):.2f}x "
                f"linear, CPU time {top['cpu_seconds'] / (reference['cpu_seconds'] * scale):.2f}x linear "
                "(target <= 1.2x)"
            )

        fits_pandas = floor_rows == args.rows
        if args.skip_pandas:
            print("pandas baseline: not run (--skip-pandas)")
        elif not fits_pandas:
            print(f"pandas baseline: not run ({args.rows:,} rows do not fit the memory budget)")
        else:
            base = child(CHILD_PANDAS, path, "pandas baseline")
            if base is not None and not base.get("failed"):
                print(
                    f"pandas profile baseline: {base['seconds']:.2f} s, peak RSS {base['peak_rss'] / 2**30:.2f} GiB"
                )
                print(
                    f"ratio: tui-trainer takes {ours['seconds'] / base['seconds']:.2f}x the pandas time "
                    f"and {ours['peak_rss'] / base['peak_rss']:.2f}x its peak memory"
                )
        print(f"end: {load()}")


if __name__ == "__main__":
    main()
