"""Video files with OpenCV: write frames, read them back, check frame count, fps and codec.

``cv2.VideoWriter`` and ``cv2.VideoCapture`` speak BGR; the course speaks RGB. These helpers
take and return RGB ``uint8`` frames and do the conversion at the file boundary.

Codecs (opencv-python-headless 5.0 wheels, FFmpeg backend, checked in ``tests/test_video.py``):
``mp4v`` in ``.mp4`` (read back as FourCC ``FMP4``, FFmpeg's name for MPEG-4 part 2),
``MJPG`` in ``.avi``, ``XVID`` in ``.avi``; ``avc1``/``H264`` are *not* available (no
OpenH264 in the wheel) and the writer silently fails to open — :func:`write_video` raises
instead of writing an empty file.

Taught in lesson 02 (OpenCV and datasets).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Video",
    "codec_works",
    "fourcc_to_str",
    "moving_shapes_clip",
    "read_video",
    "write_video",
]


@dataclass
class Video:
    """Frames read from a video file, with what the container says about them.

    Attributes:
        frames: list of ``H x W x 3`` uint8 RGB frames (in file order).
        fps: frames per second stored in the file.
        fourcc: four-character codec code as read back (e.g. ``"FMP4"`` for ``mp4v``).
        frame_count: number of frames the container reports (may differ from ``len(frames)``
            for broken files; compare the two).
        width: frame width in pixels.
        height: frame height in pixels.
    """

    frames: list[np.ndarray]
    fps: float
    fourcc: str
    frame_count: int
    width: int
    height: int


def fourcc_to_str(code: int | float) -> str:
    """Turn OpenCV's integer FourCC (``CAP_PROP_FOURCC``) back into its four characters.

    Example:
        >>> import cv2
        >>> fourcc_to_str(cv2.VideoWriter_fourcc(*"MJPG"))
        'MJPG'
        >>> fourcc_to_str(0)
        ''
    """
    code = int(code)
    if code <= 0:
        return ""
    return code.to_bytes(4, "little").decode("latin-1").rstrip("\x00")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to ``os.devnull`` for a moment.

    FFmpeg (inside OpenCV) prints to the C-level stderr when a codec cannot be opened, e.g.
    ``[h264_v4l2m2m @ 0x...] Could not find a valid device``; OpenCV's own logger does not
    control it. We raise a clear Python error instead, so the native noise is dropped.
    """
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _check_frames(frames) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(
                f"frames must be a list of HxWx3 arrays or NxHxWx3, got {frames.shape}"
            )
        frames = list(frames)
    try:
        frames = [np.asarray(f) for f in frames]
    except TypeError as exc:
        raise TypeError(
            f"frames must be an iterable of arrays, got {type(frames).__name__}"
        ) from exc
    if not frames:
        raise ValueError("frames must contain at least one frame, got 0")
    shape = frames[0].shape
    for i, f in enumerate(frames):
        if f.dtype != np.uint8:
            raise TypeError(f"frames[{i}] must be uint8, got {f.dtype}")
        if f.ndim != 3 or f.shape[2] != 3:
            raise ValueError(f"frames[{i}] must have shape (H, W, 3), got {f.shape}")
        if f.shape != shape:
            raise ValueError(f"frames[{i}] has shape {f.shape}, but frames[0] has {shape}")
    return frames


def write_video(
    frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float, fourcc: str = "mp4v"
) -> Path:
    """Write RGB ``frames`` to ``path`` with OpenCV's ``VideoWriter``.

    Args:
        frames: ``H x W x 3`` uint8 RGB frames, all the same size (or an ``N x H x W x 3`` array).
        path: output file; the suffix picks the container (``.mp4``, ``.avi``...).
        fps: frames per second (> 0).
        fourcc: four-character codec code, e.g. ``"mp4v"`` (with ``.mp4``) or ``"MJPG"``
            (with ``.avi``).

    Returns:
        The output path.

    Raises:
        ValueError: bad fps/fourcc/frames, or the codec cannot be opened for this container
            (OpenCV itself would just write nothing).
        TypeError: frames that are not uint8 arrays.

    Example:
        >>> import tempfile, pathlib
        >>> frames = [np.full((32, 48, 3), 10 * i, np.uint8) for i in range(5)]
        >>> p = write_video(frames, pathlib.Path(tempfile.mkdtemp()) / "a.avi", 5, "MJPG")
        >>> v = read_video(p)
        >>> len(v.frames), v.frame_count, v.fps, v.fourcc, (v.width, v.height)
        (5, 5, 5.0, 'MJPG', (48, 32))
    """
    import cv2

    if not isinstance(fourcc, str) or len(fourcc) != 4:
        raise ValueError(f"fourcc must be a 4-character string, got {fourcc!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    frames = _check_frames(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    existed = path.exists()
    with _native_stderr_silenced():
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    try:
        if not writer.isOpened():
            if not existed:
                path.unlink(missing_ok=True)
            raise ValueError(
                f"fourcc {fourcc!r} cannot be written to {path.suffix!r} files by this OpenCV "
                f"build; try 'mp4v' with .mp4 or 'MJPG' with .avi"
            )
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    if not path.exists():  # pragma: no cover - defensive
        raise ValueError(f"OpenCV did not write {path}")
    return path


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> Video:
    """Read every frame of a video file with ``cv2.VideoCapture`` (as RGB).

    Args:
        path: the video file.
        max_frames: stop after this many frames (``None``: all).

    Returns:
        A :class:`Video` with the frames, fps, FourCC, reported frame count and frame size.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if OpenCV cannot open it as a video.

    Example:
        >>> read_video("no/such/file.mp4")
        Traceback (most recent call last):
        ...
        FileNotFoundError: path does not exist: 'no/such/file.mp4'
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path does not exist: {str(path)!r}")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"OpenCV cannot open {str(path)!r} as a video")
        frames = []
        while max_frames is None or len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        return Video(
            frames=frames,
            fps=float(cap.get(cv2.CAP_PROP_FPS)),
            fourcc=fourcc_to_str(cap.get(cv2.CAP_PROP_FOURCC)),
            frame_count=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def codec_works(
    fourcc: str, suffix: str = ".mp4", directory: str | os.PathLike | None = None
) -> bool:
    """Return whether this OpenCV build writes ``fourcc`` into ``suffix`` files and reads them back.

    Writes a 3-frame clip to a temporary folder (or ``directory``) and removes it.

    Example:
        >>> codec_works("MJPG", ".avi")
        True
    """
    import tempfile

    frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(3)]
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / f"probe{suffix}"
        try:
            write_video(frames, path, 3, fourcc)
        except ValueError:
            return False
        return len(read_video(path).frames) == 3


def moving_shapes_clip(
    n_frames: int = 32, *, index: int = 0, step: int = 4, seed: int = 0, image_size: int = 128
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A short "camera pan" over two shapes images placed side by side, with per-frame boxes.

    Frame ``t`` is the ``image_size``-wide window starting at ``x = t * step`` of the
    ``2 * image_size``-wide strip made of validation samples ``index`` and ``index + 1``.
    Boxes are shifted and clipped to the window; boxes with less than 2 px left are dropped.

    Returns:
        ``(frames, boxes, labels)``: RGB uint8 frames, ``[K_t, 4]`` float32 xyxy boxes and
        ``[K_t]`` int64 labels (1..K) per frame.

    Raises:
        ValueError: if the pan would run off the strip.

    Example:
        >>> frames, boxes, labels = moving_shapes_clip(4, step=8)
        >>> len(frames), frames[0].shape, boxes[0].shape[1]
        (4, (128, 128, 3), 4)
    """
    from dlcv_utils.datasets.shapes import generate_sample

    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if (n_frames - 1) * step > image_size:
        raise ValueError(
            f"n_frames * step runs off the strip: (n_frames - 1) * step = {(n_frames - 1) * step}"
            f" > image_size = {image_size}"
        )
    a = generate_sample(index, split="val", image_size=image_size, seed=seed)
    b = generate_sample(index + 1, split="val", image_size=image_size, seed=seed)
    strip = np.concatenate([a.image, b.image], axis=1)
    shift = np.array([image_size, 0, image_size, 0], np.float32)
    all_boxes = np.array(
        [o.bbox for o in a.ann.objects] + [np.add(o.bbox, shift) for o in b.ann.objects],
        dtype=np.float32,
    ).reshape(-1, 4)
    all_labels = np.concatenate([a.labels, b.labels]).astype(np.int64)
    frames, boxes, labels = [], [], []
    for t in range(n_frames):
        x0 = t * step
        frames.append(np.ascontiguousarray(strip[:, x0 : x0 + image_size]))
        bx = all_boxes.copy()
        bx[:, [0, 2]] = np.clip(bx[:, [0, 2]] - x0, 0, image_size)
        keep = (bx[:, 2] - bx[:, 0]) >= 2
        boxes.append(bx[keep])
        labels.append(all_labels[keep])
    return frames, boxes, labels
