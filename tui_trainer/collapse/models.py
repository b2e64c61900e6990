"""Model factories the training engine builds for the collapse lab (`model.factory = "module:function"`)."""

from __future__ import annotations


def char_lm(
    vocab_size: int,
    context: int,
    embed: int = 16,
    hidden: int = 128,
    num_classes: int | None = None,
    **_ignored,
):
    """A character-level language model: `context` character ids → logits for the next character.

    Embedding per position, concatenated, one hidden layer (Bengio et al. 2003, at character scale). The
    engine passes `num_classes` (the vocabulary it found in the labels); the head is sized to the full
    vocabulary so a generation whose data lost a character can still be scored on real text.
    """
    import torch.nn as nn

    if num_classes is not None and num_classes > vocab_size:
        raise ValueError(f"char_lm: the data have {num_classes} classes but vocab_size is {vocab_size}")
    return nn.Sequential(
        nn.Embedding(vocab_size, embed),
        nn.Flatten(),
        nn.Linear(context * embed, hidden),
        nn.Tanh(),
        nn.Linear(hidden, vocab_size),
    )
