"""The neural collapse: a char-level language model trained by the training engine, each generation on the
previous generation's generated text.

Real data: the shipped public-domain text (`sample_data/text/*.txt`), lower-cased, whitespace runs made one
space, digits made '#'. The last 10% of each file is held out. A training table has CONTEXT columns of
character ids and a label (the next character's id); generation 0 takes `samples` random windows of the
real training text, later generations take windows of text the previous model generated (with
`--real-fraction` of fresh real windows, or everything so far with `--accumulate`). Each generation is a
real run of `tui_trainer.engine.loop.run_training` (model factory `tui_trainer.collapse.models:char_lm`).

Per generation and repeat:
- heldout_loss: cross-entropy (nats per character) of the model on every window of the held-out real text;
  heldout_perplexity = exp(heldout_loss).
- the model's own sample: max(samples, 2000) characters generated at temperature 1 from real seed contexts.
  `variance` is the variance of its word lengths (words = runs of letters), the spread that collapse narrows;
  `w2` is the squared W₂ between its word-length distribution and the held-out text's (quantile functions
  compared at 200 levels); tail mass is its share of words longer than the held-out text's 95th percentile
  length. `fitted` adds the predictive entropy on held-out contexts and the characters the sample still uses.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_trainer.collapse.experiment import CollapseParams, GenerationStats, summarise
from tui_trainer.errors import UserError

CONTEXT = 8
HELDOUT_SHARE = 0.1
SAMPLE_CHARS = 2000
STREAMS = 32  # texts generated side by side: one forward pass per character for all of them
W2_LEVELS = 200
TAIL_QUANTILE = 0.95
TRAIN = {"epochs": 8, "batch_size": 64, "lr": 3e-3, "embed": 16, "hidden": 128}
FACTORY = "tui_trainer.collapse.models:char_lm"
_WORD = re.compile(r"[a-z]+")


def normalise(text: str) -> str:
    text = text.lower()
    text = re.sub(r"\d", "#", text)
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class Corpus:
    """Real text split into a training pool and a held-out part, and the character vocabulary of both."""

    train: str
    heldout: str
    chars: str
    sources: tuple[str, ...]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str):
        import numpy as np

        index = {c: i for i, c in enumerate(self.chars)}
        return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def load_corpus(folder: Path | None = None, texts: dict[str, str] | None = None) -> Corpus:
    """The shipped text (or `texts`, name → content, for tests); UserError if there is too little of it."""
    if texts is None:
        from tui_trainer.paths import sample_data_dir

        folder = folder or sample_data_dir() / "text"
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if not files:
            raise UserError(f"--model mlp needs the shipped text: no *.txt files in {folder}")
        texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    train_parts, held_parts = [], []
    for name in sorted(texts):
        text = normalise(texts[name]).strip()
        cut = int(len(text) * (1 - HELDOUT_SHARE))
        train_parts.append(text[:cut])
        held_parts.append(text[cut:])
    train, heldout = " ".join(train_parts), " ".join(held_parts)
    if len(train) < 4 * CONTEXT or len(heldout) < 2 * CONTEXT:
        raise UserError(
            f"--model mlp: the text is too short ({len(train) + len(heldout)} characters) to train on"
        )
    return Corpus(
        train=train,
        heldout=heldout,
        chars="".join(sorted(set(train + heldout))),
        sources=tuple(sorted(texts)),
    )


def windows(ids, starts):
    """Context windows and next-character labels at `starts` of one id array: (len(starts), CONTEXT), (len,)."""
    import numpy as np

    offsets = np.arange(CONTEXT)
    return ids[starts[:, None] + offsets], ids[starts + CONTEXT]


def word_lengths(text: str):
    import numpy as np

    return np.array([len(w) for w in _WORD.findall(text)], dtype=float)


def quantile_w2(a, b) -> float:
    """Squared W₂ between two 1-D samples, comparing their quantile functions at W2_LEVELS levels."""
    import numpy as np

    if a.size == 0 or b.size == 0:
        return float("nan")
    levels = (np.arange(W2_LEVELS) + 0.5) / W2_LEVELS
    return float(np.mean((np.quantile(a, levels) - np.quantile(b, levels)) ** 2))


class _Real:
    """The real side, computed once per run: encoded text, held-out windows, word-length reference."""

    def __init__(self, corpus: Corpus) -> None:
        import numpy as np

        self.corpus = corpus
        self.train_ids = corpus.encode(corpus.train)
        held = corpus.encode(corpus.heldout)
        self.held_x, self.held_y = windows(held, np.arange(len(held) - CONTEXT))
        self.lengths = word_lengths(corpus.heldout)
        self.tail_length = float(np.quantile(self.lengths, TAIL_QUANTILE))
        self.tail_mass = float((self.lengths > self.tail_length).mean())

    def sample_windows(self, rng, n: int):
        starts = rng.integers(0, len(self.train_ids) - CONTEXT, size=n)
        return windows(self.train_ids, starts)


def reference(params: CollapseParams, corpus: Corpus | None = None) -> dict[str, Any]:
    real = _Real(corpus or load_corpus())
    return {
        "distribution": "char-level text",
        "sources": list(real.corpus.sources),
        "vocab_size": real.corpus.vocab_size,
        "context": CONTEXT,
        "heldout_chars": len(real.corpus.heldout),
        "train_pool_chars": len(real.corpus.train),
        "variance": float(real.lengths.var(ddof=1)),
        "variance_definition": "variance of word lengths in the model's generated text",
        "w2": f"squared W2 between word-length distributions (generated vs held-out text), {W2_LEVELS} quantile levels",
        "tail_mass": real.tail_mass,
        "tail_mass_definition": f"share of words longer than {real.tail_length:g} letters (held-out 95th percentile)",
        "heldout_loss": "cross-entropy in nats per character on the held-out real text",
        "training": {"factory": FACTORY, "sample_chars": SAMPLE_CHARS, **TRAIN},
    }


def _train_config(vocab_size: int, seed: int):
    from tui_trainer.engine.config import TrainConfig

    cfg = TrainConfig()
    cfg.data.path = "collapse-generation (in memory)"
    cfg.data.task = "classification"
    cfg.model.factory = FACTORY
    cfg.model.kwargs = {
        "vocab_size": vocab_size,
        "context": CONTEXT,
        "embed": TRAIN["embed"],
        "hidden": TRAIN["hidden"],
    }
    cfg.optim.lr = TRAIN["lr"]
    cfg.train.epochs = TRAIN["epochs"]
    cfg.train.batch_size = TRAIN["batch_size"]
    cfg.train.seed = seed
    cfg.train.checkpoint_every = 0
    cfg.train.keep_checkpoints = 1
    cfg.diagnostics.enabled = False
    cfg.telemetry.enabled = False
    return cfg


def train_generation(real: _Real, x, y, seed: int, run_dir: Path):
    """One engine run on the table (x, y); returns the trained model (on the CPU, in eval mode)."""
    import torch

    from tui_trainer.engine.datasets import TrainingData
    from tui_trainer.engine.loop import run_training

    vocab = real.corpus.vocab_size
    data = TrainingData(
        x_train=torch.as_tensor(x, dtype=torch.long),
        y_train=torch.as_tensor(y, dtype=torch.long),
        x_val=torch.as_tensor(real.held_x, dtype=torch.long),
        y_val=torch.as_tensor(real.held_y, dtype=torch.long),
        kind="table",
        task="classification",
        input_shape=(CONTEXT,),
        num_classes=vocab,
        class_names=list(real.corpus.chars),
        encoding={
            "label": "next_char",
            "features": [f"c{i}" for i in range(CONTEXT)],
            "chars": real.corpus.chars,
        },
    )
    result = run_training(_train_config(vocab, seed), run_dir, emit=None, data=data, telemetry=False)
    if result.status == "failed" or result.model is None:
        raise RuntimeError(f"collapse: training generation in {run_dir} failed: {result.error}")
    return result.model.to("cpu").eval()


def heldout_scores(model, real: _Real) -> tuple[float, float]:
    """(cross-entropy, mean predictive entropy) in nats per character on the held-out windows."""
    import torch

    with torch.no_grad():
        logits = model(torch.as_tensor(real.held_x))
        log_p = torch.log_softmax(logits, dim=1)
        ce = float(torch.nn.functional.nll_loss(log_p, torch.as_tensor(real.held_y)))
        entropy = float(-(log_p.exp() * log_p).sum(dim=1).mean())
    return ce, entropy


def generate(model, real: _Real, rng, n_chars: int, torch_seed: int):
    """STREAMS texts from real seed contexts, n_chars generated characters in all: (windows x, labels y, text)."""
    import numpy as np
    import torch

    per_stream = max(1, math.ceil(n_chars / STREAMS))
    seeds, _ = real.sample_windows(rng, STREAMS)
    ids = np.concatenate([seeds, np.zeros((STREAMS, per_stream), dtype=np.int64)], axis=1)
    generator = torch.Generator().manual_seed(torch_seed)
    with torch.no_grad():
        for t in range(per_stream):
            logits = model(torch.as_tensor(ids[:, t : t + CONTEXT]))
            nxt = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
            ids[:, t + CONTEXT] = nxt.numpy()
    starts = np.arange(per_stream)
    xs, ys = zip(*(windows(row, starts) for row in ids), strict=True)
    x = np.concatenate(xs)[:n_chars]
    y = np.concatenate(ys)[:n_chars]
    text = " | ".join(real.corpus.decode(row[CONTEXT:]) for row in ids)
    return x, y, text


def simulate(params: CollapseParams, corpus: Corpus | None = None) -> Generator[GenerationStats, None, None]:
    import torch

    # A model this small runs fastest on one CPU thread; many threads only add synchronisation (and on a
    # shared machine, contention). The caller's setting is restored when the experiment ends.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield from _simulate(params, corpus)
    finally:
        torch.set_num_threads(threads)


def _simulate(params: CollapseParams, corpus: Corpus | None) -> Generator[GenerationStats, None, None]:
    import numpy as np

    real = _Real(corpus or load_corpus())
    n = params.samples
    n_real = params.real_per_generation
    seeds = np.random.SeedSequence(params.seed).spawn(params.repeats)
    rngs = [np.random.default_rng(s) for s in seeds]
    torch_seeds = [int(s.generate_state(1)[0]) for s in seeds]
    kept_x: list[list[Any]] = [[] for _ in rngs]
    kept_y: list[list[Any]] = [[] for _ in rngs]
    synthetic: list[tuple[Any, Any] | None] = [None for _ in rngs]
    with tempfile.TemporaryDirectory(prefix="tui-trainer-collapse-") as tmp:
        for g in range(params.generations):
            variances, w2s, tails, losses, entropies, used = [], [], [], [], [], []
            train_size = 0
            for r, rng in enumerate(rngs):
                if g == 0:
                    x, y = real.sample_windows(rng, n)
                else:
                    rx, ry = real.sample_windows(rng, n_real)
                    sx, sy = synthetic[r]
                    x, y = np.concatenate([rx, sx[: n - n_real]]), np.concatenate([ry, sy[: n - n_real]])
                if params.accumulate:
                    kept_x[r].append(x)
                    kept_y[r].append(y)
                    x, y = np.concatenate(kept_x[r]), np.concatenate(kept_y[r])
                train_size = len(y)
                model = train_generation(real, x, y, torch_seeds[r] + g, Path(tmp) / f"r{r}-g{g}")
                ce, entropy = heldout_scores(model, real)
                gx, gy, text = generate(
                    model, real, rng, max(n, SAMPLE_CHARS), torch_seeds[r] + 7919 * (g + 1)
                )
                synthetic[r] = (gx, gy)
                lengths = word_lengths(text)
                variances.append(float(lengths.var(ddof=1)) if lengths.size > 1 else 0.0)
                w2s.append(quantile_w2(lengths, real.lengths))
                tails.append(float((lengths > real.tail_length).mean()) if lengths.size else 0.0)
                losses.append(ce)
                entropies.append(entropy)
                used.append(len(set(text) - {"|"}))
            fitted = {
                "predictive_entropy_mean": float(np.mean(entropies)),
                "chars_used_mean": float(np.mean(used)),
                "heldout_loss_std": float(np.std(losses, ddof=1)) if len(losses) > 1 else 0.0,
                "train_size": train_size,
            }
            yield summarise(g, variances, w2s, tails, heldout_loss=float(np.mean(losses)), fitted=fitted)
