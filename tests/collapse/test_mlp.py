"""The char-level language model, trained by the real engine each generation: small sizes, real numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA
from tui_trainer.collapse import mlp
from tui_trainer.collapse.experiment import CollapseParams
from tui_trainer.errors import UserError

TINY = {
    "a.txt": "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. " * 12,
    "b.txt": "Sir Walter Elliot, of Kellynch Hall, in Somersetshire, was a man who, for his own amusement, "
    "never took up any book but the Baronetage. " * 12,
}


def _run(corpus, **kw):
    return list(mlp.simulate(CollapseParams(model="mlp", **kw), corpus=corpus))


def test_corpus_split_and_normalisation():
    corpus = mlp.load_corpus(texts={"x.txt": "Chapter 12\n\nHello   World" * 20})
    assert "#" in corpus.chars and "\n" not in corpus.chars and "H" not in corpus.chars
    assert len(corpus.heldout) == pytest.approx(0.1 * (len(corpus.train) + len(corpus.heldout)), abs=3)
    assert corpus.decode(corpus.encode(corpus.heldout)) == corpus.heldout


def test_too_little_text_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="too short"):
        mlp.load_corpus(texts={"x.txt": "tiny"})
    with pytest.raises(UserError, match="no \\*.txt files"):
        mlp.load_corpus(folder=tmp_path)


def test_quantile_w2_known_answers():
    a = np.arange(100, dtype=float)
    assert mlp.quantile_w2(a, a) == 0.0
    assert mlp.quantile_w2(a, a + 2.0) == pytest.approx(4.0)


def test_each_generation_is_an_engine_run_scored_on_held_out_text():
    corpus = mlp.load_corpus(texts=TINY)
    gens = _run(corpus, generations=2, samples=300, repeats=1, seed=3)
    assert [g.generation for g in gens] == [0, 1]
    for g in gens:
        assert g.heldout_loss is not None and math.isfinite(g.heldout_loss)
        # Better than guessing uniformly over the vocabulary: the engine really trained the model.
        assert g.heldout_loss < math.log(corpus.vocab_size)
        assert g.heldout_perplexity == pytest.approx(math.exp(g.heldout_loss))
        assert g.variance_mean > 0 and g.w2_mean >= 0 and 0 <= g.tail_mass_mean <= 1
        assert g.fitted["train_size"] == 300
    again = _run(corpus, generations=2, samples=300, repeats=1, seed=3)
    assert [g.to_dict() for g in again] == [g.to_dict() for g in gens]
    other = _run(corpus, generations=1, samples=300, repeats=1, seed=4)
    assert other[0].heldout_loss != gens[0].heldout_loss


def test_accumulate_grows_the_training_table():
    corpus = mlp.load_corpus(texts=TINY)
    gens = _run(corpus, generations=3, samples=200, repeats=1, seed=5, accumulate=True)
    assert [g.fitted["train_size"] for g in gens] == [200, 400, 600]


@pytest.mark.skipif(not (SAMPLE_DATA / "text").is_dir(), reason="sample_data/text not in this checkout")
def test_replacing_with_generated_text_raises_held_out_loss_and_real_data_does_not():
    corpus = mlp.load_corpus()
    replace = _run(corpus, generations=3, samples=1500, repeats=1, seed=0)
    real = _run(corpus, generations=3, samples=1500, repeats=1, seed=0, real_fraction=1.0)
    assert replace[-1].heldout_loss > replace[0].heldout_loss + 0.2
    assert abs(real[-1].heldout_loss - real[0].heldout_loss) < 0.15
    assert real[0].heldout_loss == replace[0].heldout_loss  # generation 0 is the same fit on real data


@pytest.mark.skipif(not (SAMPLE_DATA / "text").is_dir(), reason="sample_data/text not in this checkout")
def test_cli_mlp_reports_heldout_loss(subprocess_env):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "collapse",
            "--model",
            "mlp",
            "--generations",
            "2",
            "--samples",
            "400",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert all(isinstance(g["heldout_loss"], float) for g in data["generations"])
    assert data["reference"]["training"]["factory"] == "tui_trainer.collapse.models:char_lm"
