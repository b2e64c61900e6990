"""The transformers callback on a real `Trainer` fine-tuning a tiny BERT built from a config (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrations.conftest import of_type, read_events
from tui_trainer.engine.events import Checkpoint, EpochEnd, Eval, Finished, RunStarted, Step

transformers = pytest.importorskip("transformers")


def tiny_model():
    import torch

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def token_data(n: int, seed: int):
    """Random token sequences; the label says whether token 7 occurs: learnable, like a keyword classifier."""
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 40, (n, 12), generator=g)
    labels = (ids == 7).any(dim=1).long()
    return [
        {"input_ids": ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": labels[i]}
        for i in range(n)
    ]


def make_trainer(tmp_path: Path, callbacks=None, report_to="none", **extra):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=30,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=32,
        learning_rate=5e-3,
        logging_steps=5,
        eval_strategy="steps",
        eval_steps=10,
        save_steps=15,
        report_to=report_to,
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
        **extra,
    )
    return transformers.Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=token_data(160, 1),
        eval_dataset=token_data(64, 2),
        callbacks=callbacks,
    )


def test_callback_writes_the_trainer_logs_value_for_value(tmp_path, capsys):
    from tui_trainer.integrations.transformers import TuiTrainerCallback

    run_dir = tmp_path / "run"
    trainer = make_trainer(tmp_path, callbacks=[TuiTrainerCallback(run_dir=run_dir)])
    trainer.train()
    history = trainer.state.log_history
    train_logs = [h for h in history if "loss" in h]
    eval_logs = [h for h in history if "eval_loss" in h]
    events = read_events(run_dir)

    start = of_type(events, RunStarted)[0]
    assert start.total_steps == 30 and start.config["training_args"]["learning_rate"] == 5e-3
    assert start.config["train"] == {"batch_size": 8}  # samples/s shown = steps/s x 8
    steps = of_type(events, Step)
    assert [s.step for s in steps] == [h["step"] for h in train_logs] == [5, 10, 15, 20, 25, 30]
    assert [s.loss for s in steps] == pytest.approx([h["loss"] for h in train_logs])
    assert [s.lr for s in steps] == pytest.approx([h["learning_rate"] for h in train_logs])
    assert [s.grad_norm for s in steps] == pytest.approx([h["grad_norm"] for h in train_logs])
    # Per-layer norms read before each logged step's update: every parameterised module of the BERT.
    for s in steps:
        assert "bert.embeddings.word_embeddings" in s.layer_grad_norms and "classifier" in s.layer_grad_norms
        assert all(v >= 0 for v in s.layer_grad_norms.values())
    evals = of_type(events, Eval)
    assert [e.step for e in evals] == [10, 20, 30]
    assert [e.val_loss for e in evals] == pytest.approx([h["eval_loss"] for h in eval_logs])
    assert [e.metrics["runtime"] for e in evals] == pytest.approx([h["eval_runtime"] for h in eval_logs])
    checkpoints = of_type(events, Checkpoint)
    assert [c.step for c in checkpoints] == [15, 30]
    assert all(Path(c.path).is_dir() for c in checkpoints)
    assert of_type(events, EpochEnd)  # 30 steps of 20 batches: one epoch ends on the way
    end = events[-1]
    assert isinstance(end, Finished) and end.status == "completed" and end.step == 30

    import json

    from tui_trainer.cli import main

    capsys.readouterr()
    assert main(["attach", "--json", str(run_dir)]) == 0
    summary = json.loads(capsys.readouterr().out)[0]
    assert summary["steps_per_s"] and summary["samples_per_s"] == pytest.approx(summary["steps_per_s"] * 8)


def test_report_to_tui_trainer_writes_into_the_watch_folder(tmp_path, monkeypatch):
    from tui_trainer.integrations.transformers import REGISTERED

    if not REGISTERED:
        pytest.skip("this transformers has no integration registry")
    run_dir = tmp_path / "watched"
    monkeypatch.setenv("TUI_TRAINER_RUN_DIR", str(run_dir))
    trainer = make_trainer(tmp_path, report_to=["tui-trainer"], max_grad_norm=1.0)
    trainer.train()
    events = read_events(run_dir)
    assert [s.step for s in of_type(events, Step)] == [5, 10, 15, 20, 25, 30]
    assert isinstance(events[-1], Finished)


def test_the_batch_size_reported_is_the_trainers_total_train_batch(tmp_path):
    from tui_trainer.integrations.transformers import _samples_per_step

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "o"),
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,
        use_cpu=True,
    )
    assert _samples_per_step(args) == 32  # what the Trainer logs as its total train batch size
