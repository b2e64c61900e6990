"""A seeded row sample that stays inside the lazy plan: rows whose hashed position falls under a cut.

`frame.sample(n, seed)` needs the whole frame in memory first; this filter streams, so a 10M-row file is
sampled without materialising it. The sample is about `n` rows (a binomial count; callers state the size
they got) and the same for the same seed and file.
"""

from __future__ import annotations

import polars as pl


def seeded_sample(lf: pl.LazyFrame, rows: int, n: int, seed: int = 0) -> pl.LazyFrame:
    """About `n` of the `rows` rows of `lf`, chosen by a hash of each row's position seeded with `seed`."""
    if rows <= n:
        return lf
    cut = int((1 << 64) * (n / rows))
    position = pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed)
    return lf.filter(position < pl.lit(cut, dtype=pl.UInt64))


def collect_sample(
    lf: pl.LazyFrame, rows: int, n: int, seed: int = 0, engine: str = "auto", where: pl.Expr | None = None
) -> pl.DataFrame:
    """`seeded_sample(lf.filter(where), rows, n, seed).collect()`, `rows` counted after `where`.

    Streamed, the same rows are picked batch by batch: `int_range(len())` over the whole plan makes the
    streaming engine hold every column it reads (+100 MB per million rows), a batch holds one slice.
    """
    if where is not None and (engine != "streaming" or rows <= n):
        lf = lf.filter(where)
    if engine != "streaming" or rows <= n:
        return seeded_sample(lf, rows, n, seed).collect(engine=engine)
    from tui_trainer.data.stream_profile import batches

    cut = pl.lit(int((1 << 64) * (n / rows)), dtype=pl.UInt64)
    parts, offset = [], 0
    for batch in batches(lf):
        kept = batch.filter(where) if where is not None else batch
        position = pl.int_range(offset, offset + kept.height, dtype=pl.UInt64, eager=True).hash(seed)
        parts.append(kept.filter(position < cut))
        offset += kept.height
    return pl.concat(parts) if parts else lf.head(0).collect()
