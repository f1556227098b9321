"""Tests for dlcv_utils.viz.video (OpenCV video round trip) and the lesson-02 frame slider."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dlcv_utils.viz.video import (
    codec_works,
    fourcc_to_str,
    moving_shapes_clip,
    read_video,
    write_video,
)
from dlcv_utils.viz.widgets.video import make_frame_slider, render_frame


def gradient_frames(n=6, h=48, w=64):
    """Smooth frames (lossy codecs keep them close); frame i has brightness offset 20 * i."""
    x = np.linspace(0, 100, w, dtype=np.float32)
    base = np.broadcast_to(x, (h, w))
    return [
        np.stack([base + 20 * i, np.full((h, w), 60.0), 200 - base], axis=-1).astype(np.uint8)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("fourcc", "suffix", "read_back", "max_err"),
    [("MJPG", ".avi", "MJPG", 6.0), ("mp4v", ".mp4", "FMP4", 6.0), ("XVID", ".avi", "FMP4", 6.0)],
)
def test_round_trip(tmp_path, fourcc, suffix, read_back, max_err):
    frames = gradient_frames()
    path = write_video(frames, tmp_path / f"clip{suffix}", fps=12, fourcc=fourcc)
    v = read_video(path)
    assert len(v.frames) == v.frame_count == 6
    assert v.fps == 12.0
    assert v.fourcc == read_back
    assert (v.width, v.height) == (64, 48)
    for a, b in zip(frames, v.frames):
        assert b.dtype == np.uint8 and b.shape == a.shape
        assert np.abs(a.astype(float) - b).mean() < max_err


def test_colour_order_survives_round_trip(tmp_path):
    # a pure red RGB frame must come back red, not blue (the BGR/RGB mistake)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 220
    v = read_video(write_video([red] * 3, tmp_path / "red.avi", 3, "MJPG"))
    r, g, b = v.frames[0].reshape(-1, 3).mean(axis=0)
    assert r > 180 and g < 40 and b < 40


def test_max_frames(tmp_path):
    path = write_video(gradient_frames(), tmp_path / "c.avi", 5, "MJPG")
    assert len(read_video(path, max_frames=2).frames) == 2


def test_numpy_stack_accepted(tmp_path):
    stack = np.stack(gradient_frames(3))
    assert len(read_video(write_video(stack, tmp_path / "s.avi", 5, "MJPG")).frames) == 3


def test_h264_is_unavailable_and_raises(tmp_path, capfd):
    # the opencv-python(-headless) wheels ship no H.264 encoder
    assert not codec_works("avc1", ".mp4", directory=tmp_path)
    with pytest.raises(ValueError, match="cannot be written"):
        write_video(gradient_frames(2), tmp_path / "x.mp4", 5, "avc1")
    assert not (tmp_path / "x.mp4").exists()  # no empty file left behind
    # FFmpeg's native complaints are kept off stderr (we raise a clear error instead)
    assert "h264" not in capfd.readouterr().err.lower()
    assert codec_works("mp4v", ".mp4", directory=tmp_path)


def test_fourcc_to_str():
    assert fourcc_to_str(cv2.VideoWriter_fourcc(*"mp4v")) == "mp4v"
    assert fourcc_to_str(float(cv2.VideoWriter_fourcc(*"XVID"))) == "XVID"
    assert fourcc_to_str(-1) == ""


@pytest.mark.parametrize(
    ("frames", "kwargs", "exc", "match"),
    [
        ([], {}, ValueError, "at least one frame"),
        ([np.zeros((8, 8, 3), np.float32)], {}, TypeError, r"frames\[0\] must be uint8"),
        ([np.zeros((8, 8), np.uint8)], {}, ValueError, r"frames\[0\] must have shape"),
        (
            [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)],
            {},
            ValueError,
            r"frames\[1\] has shape",
        ),
        ([np.zeros((8, 8, 3), np.uint8)], {"fps": 0}, ValueError, "fps must be a positive"),
        ([np.zeros((8, 8, 3), np.uint8)], {"fourcc": "mp4"}, ValueError, "fourcc must be a 4"),
        (np.zeros((8, 8, 3), np.uint8), {}, ValueError, "frames must be a list"),
        (5, {}, TypeError, "frames must be an iterable"),
    ],
)
def test_write_video_bad_input(tmp_path, frames, kwargs, exc, match):
    args = {"fps": 5, "fourcc": "MJPG", **kwargs}
    with pytest.raises(exc, match=match):
        write_video(frames, tmp_path / "bad.avi", **args)
    assert not (tmp_path / "bad.avi").exists() or kwargs == {}


def test_read_video_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="path does not exist"):
        read_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(ValueError, match="cannot open"):
        read_video(junk)


def test_moving_shapes_clip_pans_boxes():
    frames, boxes, labels = moving_shapes_clip(5, step=4, index=2)
    assert len(frames) == len(boxes) == len(labels) == 5
    # the window moves right by 4 px: frame t + 1 is frame t shifted left by 4 px
    np.testing.assert_array_equal(frames[1][:, :-4], frames[0][:, 4:])
    for bx, lab in zip(boxes, labels):
        assert bx.shape == (len(lab), 4)
        assert (bx[:, 0] >= 0).all() and (bx[:, 2] <= 128).all()
        assert (bx[:, 2] - bx[:, 0] >= 2).all()
    # an object fully inside both windows moves by exactly -4 px
    inside0 = boxes[0][(boxes[0][:, 0] >= 4) & (boxes[0][:, 2] <= 128)]
    assert len(inside0) > 0
    for box in inside0:
        assert any(np.allclose(box - [4, 0, 4, 0], b) for b in boxes[1])


def test_moving_shapes_clip_bad_input():
    with pytest.raises(ValueError, match="n_frames must be a positive int"):
        moving_shapes_clip(0)
    with pytest.raises(ValueError, match="runs off the strip"):
        moving_shapes_clip(40, step=4)
    with pytest.raises(ValueError, match="step must be"):
        moving_shapes_clip(3, step=-1)


def test_render_frame_draws_on_a_copy():
    frames = [np.zeros((30, 30, 3), np.uint8) for _ in range(3)]
    boxes = [np.zeros((0, 4)), np.array([[5.0, 6.0, 15.0, 20.0]]), np.zeros((0, 4))]
    out = render_frame(frames, 1, boxes)
    assert frames[1].max() == 0  # input untouched
    # the rectangle covers pixel edges [5, 15) x [6, 20): pixels 5..14, 6..19
    assert out[6, 5].tolist() == [255, 255, 0] and out[19, 14].tolist() == [255, 255, 0]
    assert out[10, 10].tolist() == [0, 0, 0]  # inside stays untouched
    assert out[20, 15].tolist() == [0, 0, 0]  # just outside
    np.testing.assert_array_equal(render_frame(frames, 0, boxes), frames[0])
    labelled = render_frame(frames, 1, boxes, [[], [1], []], ["bg", "circle"])
    assert labelled.sum() > out.sum()  # text drawn too


def test_render_frame_bad_input():
    frames = [np.zeros((10, 10, 3), np.uint8)] * 2
    with pytest.raises(IndexError, match=r"index must be in \[0, 2\)"):
        render_frame(frames, 2)
    with pytest.raises(TypeError, match="index must be an int"):
        render_frame(frames, 1.0)
    with pytest.raises(ValueError, match="boxes must have one entry per frame"):
        render_frame(frames, 0, boxes=[np.zeros((0, 4))])


def test_make_frame_slider_wiring():
    import matplotlib

    matplotlib.use("Agg")
    frames, boxes, labels = moving_shapes_clip(3, step=4)
    box = make_frame_slider(frames, boxes, labels)
    slider = box.children[0]
    assert (slider.min, slider.max, slider.value) == (0, 2, 0)
    slider.value = 2  # triggers the callback without a browser
    assert slider.value == 2
    with pytest.raises(ValueError, match="at least one frame"):
        make_frame_slider([])
