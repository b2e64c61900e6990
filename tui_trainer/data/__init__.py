"""Dataset loading, profiling, checks, fix recipes and paging (no Textual here)."""
