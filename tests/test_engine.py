"""Tests for dlcv_utils.engine: the training loop, schedule, checkpoints, NaN stop."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcv_utils.engine import (
    History,
    evaluate_detector,
    fit,
    load_checkpoint,
    lr_factor,
    make_optimizer,
    save_checkpoint,
)


class TinyDetector(nn.Module):
    """A torchvision-style 'detector': one box per image regressed from the pixels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.drop = nn.Dropout(0.2)  # uses the RNG, so repeatability is really tested
        self.head = nn.Linear(4, 4 + 2)

    def _features(self, images):
        x = torch.stack(list(images))
        x = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.head(self.drop(x))

    def forward(self, images, targets=None):
        out = self._features(images)
        size = images[0].shape[-1]
        boxes = out[:, :4] * size
        if self.training:
            gt = torch.stack([t["boxes"][0] for t in targets])
            lab = torch.stack([t["labels"][0] for t in targets]) - 1
            return {
                "loss_box": nn.functional.smooth_l1_loss(boxes, gt) / size,
                "loss_cls": nn.functional.cross_entropy(out[:, 4:], lab),
            }
        boxes = torch.stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:].abs() + 1], 1).reshape(-1, 4)
        return [
            {"boxes": b[None], "scores": torch.tensor([0.5]), "labels": torch.tensor([1])}
            for b in boxes
        ]


def make_data(n=12, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        img = torch.rand(3, size, size, generator=g)
        x1, y1 = (torch.rand(2, generator=g) * size / 2).tolist()
        box = torch.tensor([[x1, y1, x1 + size / 3, y1 + size / 3]])
        data.append((img, {"boxes": box, "labels": torch.tensor([1])}))
    return data


def collate(batch):
    return tuple(zip(*batch))


def make_loader(n=12, batch_size=4, shuffle=True):
    return torch.utils.data.DataLoader(
        make_data(n), batch_size=batch_size, shuffle=shuffle, collate_fn=collate
    )


def run(seed, **kw):
    torch.manual_seed(123)  # same initial weights; the seed argument drives the rest
    model = TinyDetector()
    kw.setdefault("epochs", 2)
    kw.setdefault("lr", 0.05)
    kw.setdefault("warmup_iters", 2)
    return model, fit(model, make_loader(), device="cpu", progress=False, seed=seed, **kw)


# ----------------------------------------------------------------------------- schedule
def test_warmup_ramp_by_hand():
    # linear from 0.1 to 1 over 4 iterations: 0.1, 0.1 + 0.9/4, 0.1 + 0.9*2/4, 0.1 + 0.9*3/4
    got = [
        lr_factor(i, 20, warmup_iters=4, warmup_factor=0.1, schedule="constant") for i in range(6)
    ]
    want = [0.1, 0.1 + 0.9 * 1 / 4, 0.1 + 0.9 * 2 / 4, 0.1 + 0.9 * 3 / 4, 1.0, 1.0]
    assert got == pytest.approx(want)


def test_cosine_values_by_hand():
    # after 4 warm-up iterations, cosine over the remaining 16: t = (i - 4) / 16
    assert lr_factor(4, 20, warmup_iters=4) == pytest.approx(1.0)
    assert lr_factor(12, 20, warmup_iters=4) == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 8 / 16))
    )
    assert lr_factor(8, 20, warmup_iters=4) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 16)))
    assert lr_factor(20, 20, warmup_iters=4) == pytest.approx(0.0, abs=1e-12)


def test_step_values_by_hand():
    f = [lr_factor(i, 10, schedule="step", milestones=(0.5, 0.8), gamma=0.1) for i in range(10)]
    assert f == pytest.approx([1.0] * 5 + [0.1] * 3 + [0.1 * 0.1] * 2)


def test_fit_uses_the_schedule():
    # 3 batches per epoch x 2 epochs = 6 iterations, warm-up 2, cosine over 4
    _, h = run(0, lr=0.05, warmup_iters=2, warmup_factor=0.2)
    want = [0.05 * lr_factor(i, 6, warmup_iters=2, warmup_factor=0.2) for i in range(6)]
    assert h.lr == pytest.approx(want)
    assert h.lr[0] == pytest.approx(0.05 * 0.2)
    assert h.lr[1] == pytest.approx(0.05 * (0.2 + 0.8 / 2))
    assert h.lr[2] == pytest.approx(0.05)


def test_lr_factor_validation():
    with pytest.raises(ValueError, match="schedule must be one of"):
        lr_factor(0, 10, schedule="linear")
    with pytest.raises(ValueError, match="total_iters"):
        lr_factor(0, 0)
    with pytest.raises(ValueError, match="warmup_factor"):
        lr_factor(0, 10, warmup_factor=0.0)
    with pytest.raises(ValueError, match="warmup_iters"):
        lr_factor(0, 10, warmup_iters=-1)


# ----------------------------------------------------------------------------- training
def test_repeatable_with_same_seed():
    _, h1 = run(seed=7)
    _, h2 = run(seed=7)
    _, h3 = run(seed=8)
    assert h1.losses == h2.losses
    assert h1.losses["loss"] != h3.losses["loss"]


def test_history_contents():
    _, h = run(0, epochs=3)
    assert h.iterations == 9
    assert set(h.losses) == {"loss_box", "loss_cls", "loss"}
    total = [a + b for a, b in zip(h.losses["loss_box"], h.losses["loss_cls"])]
    assert h.losses["loss"] == pytest.approx(total)
    assert [row["epoch"] for row in h.epochs] == [1, 2, 3]
    assert h.epochs[0]["loss"] == pytest.approx(sum(h.losses["loss"][:3]) / 3)
    assert len(h.grad_norm) == 9 and all(g > 0 for g in h.grad_norm)
    assert h.stop_reason is None
    fig = h.plot()
    assert len(fig.axes) == 2


def test_grad_clip_is_applied():
    # plain SGD (lr 1, no momentum, no decay): the step equals minus the clipped gradient
    torch.manual_seed(0)
    model = TinyDetector()
    model.drop.p = 0.0
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loader = make_loader(4, batch_size=4, shuffle=False)
    h = fit(
        model,
        loader,
        epochs=1,
        optimizer=opt,
        warmup_iters=0,
        lr_schedule="constant",
        grad_clip=0.01,
        device="cpu",
        progress=False,
    )
    step = torch.sqrt(
        sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before))
    )
    assert h.grad_norm[0] > 0.01  # the raw gradient was larger than the clip...
    assert float(step) == pytest.approx(0.01, rel=1e-4)  # ...and the step was clipped to 0.01


def test_no_clip_step_equals_gradient_norm():
    torch.manual_seed(0)
    model = TinyDetector()
    model.drop.p = 0.0
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    h = fit(
        model,
        make_loader(4, 4, False),
        epochs=1,
        optimizer=opt,
        warmup_iters=0,
        lr_schedule="constant",
        device="cpu",
        progress=False,
    )
    step = torch.sqrt(
        sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before))
    )
    assert float(step) == pytest.approx(h.grad_norm[0], rel=1e-4)


class NaNAt(nn.Module):
    """Loss becomes NaN at a given call."""

    def __init__(self, at: int, term: str = "loss_b", value=float("nan")):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))
        self.calls, self.at, self.term, self.value = 0, at, term, value

    def forward(self, images, targets=None):
        self.calls += 1
        bad = self.w * self.value if self.calls > self.at else self.w * 0.5
        out = {"loss_a": self.w**2, "loss_b": self.w * 0.5}
        out[self.term] = bad
        return out


def test_nan_loss_stops_with_clear_message():
    batches = [([torch.zeros(3, 4, 4)], [{}])] * 4
    with pytest.raises(FloatingPointError, match=r"'loss_b' became nan at iteration 5 \(epoch 2\)"):
        fit(NaNAt(5), batches, epochs=3, lr=0.01, warmup_iters=0, device="cpu", progress=False)


def test_inf_loss_stops_too():
    batches = [([torch.zeros(3, 4, 4)], [{}])] * 4
    with pytest.raises(FloatingPointError, match=r"'loss_a' became inf at iteration 0"):
        fit(NaNAt(0, "loss_a", float("inf")), batches, epochs=1, device="cpu", progress=False)


def test_max_seconds_stops_early():
    _, h = run(0, epochs=50, max_seconds=1e-9)
    assert h.iterations == 1
    assert "max_seconds" in h.stop_reason
    assert len(h.epochs) == 1


def test_adamw_and_optimizer_defaults():
    model = nn.Linear(2, 1)
    sgd = make_optimizer(model)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.param_groups[0]["momentum"] == 0.9
    assert sgd.param_groups[0]["weight_decay"] == 1e-4
    assert sgd.param_groups[0]["lr"] == 0.01
    _, h = run(0, optimizer="adamw", lr=None, warmup_iters=0, lr_schedule="constant")
    assert h.lr[0] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="optimizer must be"):
        make_optimizer(model, "rmsprop")


def test_fit_argument_validation():
    model, loader = TinyDetector(), make_loader()
    kw = {"device": "cpu", "progress": False}
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        fit(model, loader, epochs=0, **kw)
    with pytest.raises(ValueError, match="lr must be > 0, got -1"):
        fit(model, loader, epochs=1, lr=-1, **kw)
    with pytest.raises(ValueError, match="grad_clip must be > 0, got 0"):
        fit(model, loader, epochs=1, grad_clip=0, **kw)
    with pytest.raises(TypeError, match="epochs must be an int, got bool"):
        fit(model, loader, epochs=True, **kw)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        fit(model, loader, epochs=1, lr_schedule="poly", **kw)
    with pytest.raises(ValueError, match="eval_every must be an int >= 1"):
        fit(model, loader, epochs=1, eval_every=0, **kw)
    with pytest.raises(ValueError, match="warmup_iters must be an int >= 0"):
        fit(model, loader, epochs=1, warmup_iters=-3, **kw)
    with pytest.raises(ValueError, match="max_seconds must be > 0, got 0"):
        fit(model, loader, epochs=1, max_seconds=0, **kw)
    with pytest.raises(ValueError, match="train_loader is empty"):
        fit(model, [], epochs=1, **kw)
    with pytest.raises(TypeError, match="train_loader must have a len"):
        fit(model, (b for b in loader), epochs=1, **kw)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        fit("model", loader, epochs=1, **kw)
    with pytest.raises(TypeError, match="optimizer must be None"):
        fit(model, loader, epochs=1, optimizer=3, **kw)
    with pytest.raises(TypeError, match=r"must yield \(images, targets\)"):
        fit(model, [torch.zeros(1)], epochs=1, **kw)
    with pytest.raises(ValueError, match="device must be"):
        fit(model, loader, epochs=1, device="tpu", progress=False)


def test_model_must_return_loss_dict():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, images, targets=None):
            return self.w.sum()

    with pytest.raises(TypeError, match="must return a non-empty dict of losses"):
        fit(Bad(), make_loader(), epochs=1, device="cpu", progress=False)


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path):
    model, _ = run(0)
    opt = make_optimizer(model)
    model.train()
    loss = sum(model(*next(iter(make_loader()))).values())
    loss.backward()
    opt.step()  # gives the optimizer a momentum buffer to save
    path = save_checkpoint(tmp_path / "sub" / "ckpt.pt", model, opt, epoch=4, extra={"map50": 0.5})
    other = TinyDetector()
    other_opt = make_optimizer(other)
    info = load_checkpoint(path, other, other_opt)
    assert info == {"epoch": 4, "extra": {"map50": 0.5}}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b)
    buf = opt.state_dict()["state"][0]["momentum_buffer"]
    torch.testing.assert_close(other_opt.state_dict()["state"][0]["momentum_buffer"], buf)


def test_fit_writes_checkpoint(tmp_path):
    model, h = run(0, epochs=2, checkpoint_path=tmp_path / "last.pt")
    other = TinyDetector()
    info = load_checkpoint(tmp_path / "last.pt", other)
    assert info["epoch"] == 2
    assert info["extra"]["loss"] == pytest.approx(h.epochs[-1]["loss"])
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", TinyDetector())
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a checkpoint written by save_checkpoint"):
        load_checkpoint(tmp_path / "other.pt", TinyDetector())
    save_checkpoint(tmp_path / "noopt.pt", TinyDetector())
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(tmp_path / "noopt.pt", TinyDetector(), make_optimizer(TinyDetector()))
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        save_checkpoint(tmp_path / "x.pt", "model")
    with pytest.raises(TypeError, match="extra must be a mapping"):
        save_checkpoint(tmp_path / "x.pt", TinyDetector(), extra=[1])


def test_history_plot_validation_and_metrics():
    h = History(losses={"loss": [1.0]}, epochs=[{"epoch": 1, "loss": 1.0, "seconds": 0.1}])
    assert h.metrics == {}
    h.epochs.append({"epoch": 2, "loss": 0.5, "seconds": 0.1, "map50": 0.7, "map": 0.4})
    assert h.metrics == {"map50": 0.7, "map": 0.4}
    assert len(h.plot().axes) == 2
    with pytest.raises(ValueError, match="smooth must be a positive int"):
        h.plot(smooth=0)


# ----------------------------------------------------------------------------- evaluation
class Oracle(nn.Module):
    """Predicts given boxes for each image, identified by its constant pixel value."""

    def __init__(self, predictions):
        super().__init__()
        self.predictions = predictions  # {pixel value: (boxes, scores, labels)}
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, images, targets=None):
        out = []
        for img in images:
            boxes, scores, labels = self.predictions[int(img[0, 0, 0])]
            out.append(
                {
                    "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                    "scores": torch.tensor(scores, dtype=torch.float32),
                    "labels": torch.tensor(labels, dtype=torch.int64),
                }
            )
        return out


def oracle_batches():
    gt1 = {"boxes": torch.tensor([[2.0, 2, 12, 12]]), "labels": torch.tensor([1])}
    gt2 = {"boxes": torch.tensor([[5.0, 5, 15, 15]]), "labels": torch.tensor([2])}
    return [([torch.full((3, 20, 20), 1.0), torch.full((3, 20, 20), 2.0)], [gt1, gt2])]


def test_evaluate_detector_by_hand():
    names = ("__background__", "cat", "dog")
    # image 1: its cat found exactly; image 2: the dog missed, a low-scoring wrong cat instead
    model = Oracle({1: ([[2, 2, 12, 12]], [0.9], [1]), 2: ([[0, 0, 3, 3]], [0.2], [1])})
    m = evaluate_detector(model, oracle_batches(), "cpu", class_names=names)
    assert m["per_class"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(0.0)}
    assert m["map50"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["num_images"] == 2 and m["num_detections"] == 2
    assert m["seconds_per_image"] >= 0
    assert model.training  # mode restored


def test_evaluate_detector_partial_recall_and_threshold():
    # one class, two objects, only one found: precision 1 up to recall 0.5 -> 51 of the
    # 101 COCO recall points
    model = Oracle({1: ([[2, 2, 12, 12]], [0.9], [1]), 2: ([[5, 5, 15, 15]], [0.3], [1])})
    batches = oracle_batches()
    batches[0][1][1]["labels"] = torch.tensor([1])
    assert evaluate_detector(model, batches, "cpu")["map50"] == pytest.approx(1.0)
    m = evaluate_detector(model, batches, "cpu", score_threshold=0.5)
    assert m["map50"] == pytest.approx(51 / 101)
    assert m["num_detections"] == 1
    with pytest.raises(ValueError, match=r"score_threshold must be in \[0, 1\], got 2"):
        evaluate_detector(model, batches, "cpu", score_threshold=2)
    with pytest.raises(ValueError, match="loader yielded no images"):
        evaluate_detector(model, [], "cpu")


def test_fit_evaluates_every_n_epochs():
    _, h = run(0, epochs=3, val_loader=make_loader(shuffle=False), eval_every=2)
    assert ["map50" in row for row in h.epochs] == [False, True, True]
    assert 0.0 <= h.metrics["map50"] <= 1.0
    assert h.metrics["map"] <= h.metrics["map50"]
    assert h.eval_seconds > 0


def test_time_aware_schedule_decays_before_the_time_limit(monkeypatch):
    import dlcv_utils.engine.loop as engine

    clock = {"t": 0.0}

    def fake_perf_counter():
        clock["t"] += 0.5  # every call to the clock "takes" half a second
        return clock["t"]

    monkeypatch.setattr(engine.time, "perf_counter", fake_perf_counter)
    # 50 epochs x 3 batches = 150 iterations, but only ~60 s: far too slow to finish
    _, h = run(0, epochs=50, lr=0.1, warmup_iters=0, max_seconds=60)
    assert "max_seconds" in h.stop_reason
    n = h.iterations
    assert n < 150
    by_iteration = 0.1 * lr_factor(n - 1, 150, warmup_iters=0)
    assert by_iteration > 0.05  # the iteration count alone would still be at a high lr...
    assert h.lr[-1] < 0.01  # ...but the time-aware schedule has decayed almost to 0
    assert all(a >= b for a, b in zip(h.lr, h.lr[1:]))  # cosine: never increases

    clock["t"] = 0.0
    _, h2 = run(0, epochs=50, lr=0.1, warmup_iters=0, max_seconds=60, time_aware_schedule=False)
    assert h2.lr[-1] == pytest.approx(0.1 * lr_factor(h2.iterations - 1, 150, warmup_iters=0))


def test_time_aware_schedule_does_not_change_a_run_on_pace():
    _, h1 = run(3, epochs=2)
    _, h2 = run(3, epochs=2, max_seconds=1e6)
    assert h1.lr == h2.lr and h1.losses == h2.losses


def test_progress_bar_respects_tqdm_disable(monkeypatch, capsys):
    # tqdm's notebook bar (tqdm.auto in Jupyter) passes ``disable`` itself and so ignores
    # $TQDM_DISABLE: fit must decide from the variable, or notebooks store one dead
    # progress-bar widget per epoch.
    import tqdm.auto

    calls = []
    real = tqdm.auto.tqdm

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", recording)
    model, loader = TinyDetector(), make_loader()
    monkeypatch.setenv("TQDM_DISABLE", "1")
    fit(model, loader, epochs=1, device="cpu", progress=True, warmup_iters=0)
    assert calls[-1]["disable"] is True
    assert "epoch 1/1: loss" in capsys.readouterr().out  # the per-epoch line is still printed
    monkeypatch.delenv("TQDM_DISABLE")
    fit(model, loader, epochs=1, device="cpu", progress=True, warmup_iters=0)
    assert calls[-1]["disable"] is False
    capsys.readouterr()
    fit(model, loader, epochs=1, device="cpu", progress=False, warmup_iters=0)
    assert calls[-1]["disable"] is True
    assert capsys.readouterr().out == ""


def test_time_budget_ignores_a_slow_start_and_follows_a_projected_overrun():
    # 1000 iterations, 100 s budget. A slow first step (2 s for 1 step) is no overrun yet:
    # too early to judge (< 5 % of the run), so the schedule keeps the plain count.
    from dlcv_utils.engine import TimeBudget

    budget = TimeBudget(100.0, total_iters=1000)
    budget._start -= 2.0
    assert budget.schedule_iteration(1) == 1
    # after 100 steps in 5 s the projection is 5 / 100 * 1000 = 50 s <= 100 s: on pace
    budget._start -= 3.0
    assert budget.schedule_iteration(100) == 100
    # after 100 steps in 20 s the projection is 200 s > 100 s: the schedule follows the time,
    # 1000 * 20 / 100 = 200
    budget._start -= 15.0
    assert budget.schedule_iteration(100) == 200
    assert TimeBudget(None, total_iters=10).schedule_iteration(3) == 3
    assert TimeBudget(1.0, total_iters=10, time_aware=False).schedule_iteration(3) == 3
