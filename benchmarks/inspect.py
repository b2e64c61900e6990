"""Benchmark `tui-trainer inspect` on a generated 10M x 12 Parquet: profile + all findings, peak RSS, pandas ratio.

Usage: python benchmarks/inspect.py [--rows N] [--stream] [--skip-pandas] [--keep DIR]
Each measurement runs in a fresh child process so its peak RSS (ru_maxrss) is its own. Targets
(issue 4): 10M rows within 12 s and 4 GB on a 2-core machine; first page in under 1 s.
--stream forces the streamed path (what a file bigger than a quarter of free RAM gets): its peak
memory should stay flat as --rows grows (issue 16). Ratios are against the eager Polars floor: the
same statistics hand-written in eager Polars on the file read into memory.
"""

from __future__ import annotations

import sys

# This file is named like the stdlib `inspect`; drop its folder from the path so numpy & co. get the real one.
sys.path[:] = [
    p for p in sys.path if p not in ("", __file__.rsplit("/", 1)[0]) and not p.endswith("benchmarks")
]

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

FLOATS = [f"f{i}" for i in range(8)]
CATEGORIES = ["cat_a", "cat_b", "cat_c"]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    unique_rows = rows - rows // 200  # ~0.5% of rows repeat an earlier one
    data: dict[str, object] = {}
    for i, name in enumerate(FLOATS):
        x = rng.normal(loc=i, scale=1 + i, size=unique_rows)
        outliers = rng.random(unique_rows) < 0.005
        x[outliers] += rng.choice([-1, 1], outliers.sum()) * (10 + i) * (1 + i)
        data[name] = x
    data["cat_a"] = rng.choice(["red", "green", "blue", "yellow"], unique_rows)
    data["cat_b"] = rng.choice([f"city_{k}" for k in range(200)], unique_rows)
    data["cat_c"] = rng.choice(["x", "y"], unique_rows, p=[0.7, 0.3])
    data["label"] = rng.choice([0, 1, 2], unique_rows, p=[0.9, 0.08, 0.02])
    frame = pl.DataFrame(data)
    frame = frame.with_columns(
        [
            pl.when(pl.lit(rng.random(unique_rows) < 0.01)).then(None).otherwise(pl.col(n)).alias(n)
            for n in FLOATS
        ]
    )
    dup_index = rng.integers(0, unique_rows, rows - unique_rows)
    frame = pl.concat([frame, frame[dup_index]])
    frame.write_parquet(path, row_group_size=1_000_000)


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
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak_rss": rss, "rows": data["rows"], "findings": len(data["findings"]),
                  "duplicates": data["duplicates"], "engine": inspection.engine}))
"""

CHILD_POLARS = """
import json, resource, sys, time
t0 = time.perf_counter()
import polars as pl
df = pl.read_parquet(sys.argv[1])
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
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak_rss": rss}, default=str))
"""

CHILD_PANDAS = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
import pandas as pd
df = pd.read_parquet(sys.argv[1])
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


def child(code: str, path: Path, baseline: str | None = None, *args: str) -> dict | None:
    """Run one measurement in a fresh interpreter; a baseline that cannot run is reported, not fatal."""
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        if baseline is None:
            raise SystemExit(f"child failed:\n{result.stderr}")
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        print(
            f"{baseline} baseline: not run ({last[:160]}); install the bench extra: pip install -e '.[bench]'"
        )
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-pandas", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--stream", action="store_true", help="force the streamed, bounded-memory path (as for huge files)"
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="generate (or reuse) the file in DIR instead of a temp dir"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench_{args.rows}.parquet"
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, args.rows)
            print(
                f"generated {path.name}: {args.rows:,} rows x 12 columns in {time.perf_counter() - t0:.1f} s"
            )
        page = child(CHILD_FIRST_PAGE, path)
        print(
            f"first page: {page['rows_shown']} rows of {page['total']:,} in {page['seconds']:.3f} s (target < 1 s)"
        )
        ours = child(CHILD_INSPECT, path, None, "stream" if args.stream else "auto")
        print(
            f"inspect (profile + all findings, --label label, {ours['engine']} path): {ours['seconds']:.2f} s, "
            f"peak RSS {ours['peak_rss'] / 2**30:.2f} GiB, {ours['findings']} findings, "
            f"{ours['duplicates']:,} duplicate rows (target: 12 s / 4 GB at 10M rows)"
        )
        floor = child(CHILD_POLARS, path, "eager Polars floor")
        if floor is not None:
            print(
                f"eager Polars floor (same statistics, file in memory): {floor['seconds']:.2f} s, "
                f"peak RSS {floor['peak_rss'] / 2**30:.2f} GiB; tui-trainer takes "
                f"{ours['seconds'] / floor['seconds']:.2f}x its time and {ours['peak_rss'] / floor['peak_rss']:.2f}x "
                "its peak memory"
            )
        base = None if args.skip_pandas else child(CHILD_PANDAS, path, baseline="pandas")
        if args.skip_pandas:
            print("pandas baseline: not run (--skip-pandas)")
        if base is not None:
            print(
                f"pandas profile baseline: {base['seconds']:.2f} s, peak RSS {base['peak_rss'] / 2**30:.2f} GiB"
            )
            print(
                f"ratio: tui-trainer takes {ours['seconds'] / base['seconds']:.2f}x the pandas time "
                f"and {ours['peak_rss'] / base['peak_rss']:.2f}x its peak memory"
            )


if __name__ == "__main__":
    main()
