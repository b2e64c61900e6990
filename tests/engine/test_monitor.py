"""monitor: a user's own loop writes the same events (buffered) and gets the same diagnostics."""

from __future__ import annotations

import time

import pytest
import torch

from tui_trainer import monitor
from tui_trainer.engine.follow import EventFollower
from tui_trainer.engine.runs import read_run


def test_log_eval_finish_writes_engine_events(tmp_path):
    run_dir = tmp_path / "mine"
    with monitor.start(run_dir, config={"optim": {"lr": 0.1}}, flush_interval_s=60) as run:
        for step in range(1, 21):
            run.log(
                step=step,
                loss=torch.tensor(1.0 / step),
                lr=0.1,
                grad_norm=torch.tensor(0.5),
                metrics={"accuracy": torch.tensor(0.5)},
            )
        # Buffered: nothing but run_started on disk until a flush.
        assert [e.type for e in EventFollower(run_dir).read_all()] == ["run_started"]
        run.eval(step=20, val_loss=0.3, accuracy=0.9)
        run.checkpoint(step=20, path=tmp_path / "ckpt.pt")
    events = EventFollower(run_dir).read_all()
    assert [e.type for e in events][:2] == ["run_started", "step"]
    steps = [e for e in events if e.type == "step"]
    assert (
        len(steps) == 20 and steps[-1].loss == pytest.approx(0.05) and steps[0].metrics == {"accuracy": 0.5}
    )
    assert events[0].config == {"optim": {"lr": 0.1}}
    assert events[-1].type == "finished" and events[-1].best_val_loss == 0.3
    assert read_run(run_dir).status == "finished"


def test_monitor_raises_the_same_diagnostics(tmp_path, capsys):
    run = monitor.start(tmp_path / "diverge")
    for step, loss in enumerate([2.3, 2.0, 1.9, 4.0, 20.0, 90.0, 500.0, float("nan")], 1):
        run.log(step=step, loss=loss)
    run.finish()
    codes = [d.code for d in run.diagnostics]
    assert "lr_too_high" in codes and "nan_loss" in codes
    on_disk = [e.code for e in EventFollower(tmp_path / "diverge").read_all() if e.type == "diagnostic"]
    assert on_disk == codes
    assert "lr_too_high" in capsys.readouterr().err


def test_exception_in_block_marks_run_failed(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with monitor.start(tmp_path / "crash", echo=False) as run:
            run.log(step=1, loss=1.0)
            raise ZeroDivisionError("division by zero")
    events = EventFollower(tmp_path / "crash").read_all()
    assert events[-1].type == "failed" and "ZeroDivisionError" in events[-1].error and events[-1].step == 1
    with pytest.raises(RuntimeError, match="already finished"):
        run.log(step=2, loss=1.0)


def test_unknown_keywords_to_log_are_an_error_naming_metrics(tmp_path):
    with monitor.start(tmp_path / "r", echo=False) as run:
        with pytest.raises(TypeError, match=r"unknown keyword argument\(s\): acc.*metrics=\{'acc': value\}"):
            run.log(step=1, loss=1.0, acc=0.5)
        run.log(step=1, loss=1.0, metrics={"acc": 0.5}, data_wait_s=0.25, compute_s=0.75)
    step = [e for e in EventFollower(tmp_path / "r").read_all() if e.type == "step"][0]
    assert step.metrics == {"acc": 0.5} and step.data_wait_s == 0.25 and step.compute_s == 0.75


class SlowRows(torch.utils.data.Dataset):
    """Rows that take `delay_s` each to 'decode', as a slow image decoder would."""

    def __init__(self, n: int, delay_s: float) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = (self.x[:, 0] > 0).long()
        self.delay_s = delay_s

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.x[i], self.y[i]


def user_loop(run_dir, delay_s, steps, seed=0):
    """A plain PyTorch loop timing its own data wait and compute, as the monitor docs show."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(SlowRows(512, delay_s), batch_size=16, shuffle=True)
    with monitor.start(run_dir, echo=False) as run:
        step = 0
        while step < steps:
            t0 = time.perf_counter()
            for x, y in loader:
                t1 = time.perf_counter()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                t2 = time.perf_counter()
                run.log(step=step, loss=loss.detach(), data_wait_s=t1 - t0, compute_s=t2 - t1)
                t0 = time.perf_counter()
                if step >= steps:
                    break
    return run


def test_a_user_loop_waiting_on_its_data_gets_the_bottleneck_warning(tmp_path):
    slow = user_loop(tmp_path / "slow", delay_s=0.0002, steps=260)
    assert "dataloader_bottleneck" in [d.code for d in slow.diagnostics]
    fast = user_loop(tmp_path / "fast", delay_s=0.0, steps=260)
    assert "dataloader_bottleneck" not in [d.code for d in fast.diagnostics]


def deep_net(activation, depth):
    layers = []
    for _ in range(depth):
        layers += [torch.nn.Linear(16, 16), activation()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(16, 2))


def watched_loop(run_dir, model, steps=120, seed=0, zero_grad_after=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 16, generator=g)
    y = (x[:, :2].sum(dim=1) > 0).long()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with monitor.start(run_dir, echo=False, task="classification", num_classes=2) as run:
        run.watch(model)
        for step in range(1, steps + 1):
            idx = torch.randint(0, 512, (32,), generator=g)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            if not zero_grad_after:
                opt.zero_grad()
            loss.backward()
            opt.step()
            if zero_grad_after:
                opt.zero_grad()  # grads are gone before log(): the norms were taken in backward
            run.log(step=step, loss=loss.detach())
    return run


@pytest.mark.parametrize("zero_grad_after", [False, True])
def test_watch_names_the_starved_layers_of_a_deep_sigmoid_net(tmp_path, zero_grad_after):
    torch.manual_seed(0)
    run = watched_loop(tmp_path / "deep", deep_net(torch.nn.Sigmoid, 20), zero_grad_after=zero_grad_after)
    steps = [e for e in EventFollower(tmp_path / "deep").read_all() if e.type == "step"]
    sampled = [s for s in steps if s.layer_grad_norms]
    assert len(sampled) >= 20 and set(sampled[0].layer_grad_norms) == {str(2 * i) for i in range(21)}
    assert all(s.grad_norm is not None for s in sampled)  # the global norm follows from the layers
    vanishing = [d for d in run.diagnostics if d.code == "vanishing_gradients"]
    assert vanishing and "0" in vanishing[0].evidence["layers"]


@pytest.mark.parametrize("seed", range(5))
def test_watch_stays_silent_on_a_healthy_relu_net(tmp_path, seed):
    torch.manual_seed(seed)
    run = watched_loop(tmp_path / "ok", deep_net(torch.nn.ReLU, 2), seed=seed)
    steps = [e for e in EventFollower(tmp_path / "ok").read_all() if e.type == "step"]
    assert sum(bool(s.dead_units) for s in steps) >= 20
    assert not {d.code for d in run.diagnostics} & {
        "vanishing_gradients",
        "exploding_gradients",
        "dead_units",
    }


def test_preflight_in_a_user_loop_names_the_layer_and_passes_a_good_model():
    x, y = torch.randn(8, 10), torch.randint(0, 3, (8,))
    good = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    summary = monitor.preflight(good, (x, y), torch.nn.CrossEntropyLoss())
    assert summary["params"] == sum(p.numel() for p in good.parameters())
    bad = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with pytest.raises(monitor.PreflightError) as caught:
        monitor.preflight(bad, (x, y), torch.nn.CrossEntropyLoss())
    assert caught.value.code == "shape_mismatch" and "`2`" in caught.value.message
    wrong_width = torch.nn.Sequential(torch.nn.Linear(10, 2))
    with pytest.raises(monitor.PreflightError) as caught:
        monitor.preflight(
            wrong_width, (x, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])), torch.nn.CrossEntropyLoss()
        )
    assert caught.value.code == "labels_out_of_range"


class TwoLayers(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(10, 4)
        self.fc2 = torch.nn.Linear(5, 3)  # wrong: fc1 gives 4

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def test_preflight_points_at_the_layer_definition_in_init():
    with pytest.raises(monitor.PreflightError) as caught:
        monitor.preflight(
            TwoLayers(), (torch.randn(8, 10), torch.randint(0, 3, (8,))), torch.nn.CrossEntropyLoss()
        )
    error = caught.value
    assert error.code == "shape_mismatch" and "layer `fc2`" in error.message
    assert (
        "defined at test_monitor.py:" in error.message and "self.fc2 = torch.nn.Linear(5, 3)" in error.message
    )
    assert "self.fc2(torch.relu(self.fc1(x)))" in error.message  # and the forward line that ran it
