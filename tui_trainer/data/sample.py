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
