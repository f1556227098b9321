"""Lesson 07's exercise checkers: a right, a wrong and a stub answer for each."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcv_utils.course import exercises as ex
from dlcv_utils.models.single_shot import decode_detections

CASES = [(ex.check_blob, ex.solution_blob), (ex.check_decode_raw, ex.solution_decode_raw)]


def _blob_no_swap(image, size, scalefactor, mean, swap_rb, crop):
    return ex.solution_blob(image, size, scalefactor, mean, False, crop)


def _blob_channels_last(image, size, scalefactor, mean, swap_rb, crop):
    return ex.solution_blob(image, size, scalefactor, mean, swap_rb, crop)[0].transpose(1, 2, 0)


def _blob_scale_first(image, size, scalefactor, mean, swap_rb, crop):
    b = ex.solution_blob(image, size, 1.0, (0, 0, 0), swap_rb, crop)
    return (b * scalefactor - np.asarray(mean, np.float32)[None, :, None, None]).astype(np.float32)


def _decode_no_clip(logits, deltas, anchors, image_size, thr):
    return ex.solution_decode_raw(logits, deltas, anchors, (10_000, 10_000), thr)


def _decode_labels_from_zero(logits, deltas, anchors, image_size, thr):
    b, s, lab = ex.solution_decode_raw(logits, deltas, anchors, image_size, thr)
    return b, s, lab - 1


def _decode_best_class_only(logits, deltas, anchors, image_size, thr):
    b, s, lab = ex.solution_decode_raw(logits, deltas, anchors, image_size, thr)
    return b[:1], s[:1], lab[:1]


WRONG = [
    (ex.check_blob, _blob_no_swap, "swapRB with a mean", "swap B and R first"),
    (ex.check_blob, _blob_channels_last, "same size, no options", "channels last"),
    (ex.check_blob, _blob_scale_first, "mean per channel", "before the scale factor"),
    (ex.check_decode_raw, _decode_no_clip, "clipped to the image", "clip x to [0, W]"),
    (ex.check_decode_raw, _decode_labels_from_zero, "one anchor, zero deltas", "label = class + 1"),
    (ex.check_decode_raw, _decode_best_class_only, "threshold drops pairs", "one anchor can give"),
]


@pytest.mark.parametrize(("check", "solution"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_solution_passes(check, solution, capsys):
    assert check(solution, n_random=10) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {solution.__name__} passes all ") and "✗" not in out


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_fails_with_hint(check, wrong, case, hint, capsys):
    assert check(wrong, n_random=10) is False
    out = capsys.readouterr().out
    assert f"✗ {wrong.__name__} fails on case '{case}'" in out
    assert hint in out


@pytest.mark.parametrize("check", [c for c, _ in CASES], ids=lambda c: c.__name__)
def test_stub_and_bad_arguments(check, capsys):
    def my_stub(*args):
        raise NotImplementedError

    assert check(my_stub, n_random=2) is False
    assert "my_stub: not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="fn must be a function"):
        check(42)
    with pytest.raises(ValueError, match="n_random must be a non-negative int"):
        check(my_stub, n_random=-1)


def test_decode_solution_matches_the_package_without_nms():
    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(40, 2, generator=gen) * 50
    anchors = torch.cat([xy, xy + 10 + torch.rand(40, 2, generator=gen) * 20], dim=1)
    logits = torch.randn(40, 3, generator=gen)
    deltas = torch.randn(40, 4, generator=gen) * 0.2
    b, s, lab = ex.solution_decode_raw(logits, deltas, anchors, (200, 200), 0.4)
    ref = decode_detections(
        logits,
        deltas,
        anchors,
        (200, 200),
        score_thresh=0.4,
        nms_thresh=1.0,
        detections_per_img=10_000,
    )[0]
    torch.testing.assert_close(s, ref["scores"])
    torch.testing.assert_close(b, ref["boxes"], atol=1e-4, rtol=0)
    assert torch.equal(lab, ref["labels"])


def test_both_solutions_are_listed():
    assert ex.SOLUTIONS["blob"] is ex.solution_blob
    assert ex.SOLUTIONS["decode_raw"] is ex.solution_decode_raw
