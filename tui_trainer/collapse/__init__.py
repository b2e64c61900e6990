"""Model-collapse experiments: models refit on their own samples, generation after generation (no Textual here)."""
