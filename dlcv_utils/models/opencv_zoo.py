"""Pretrained detectors for OpenCV's DNN module: download, cache, load (for Colab; never in tests).

Two routes from lesson 07:

* ``"ssd_mobilenet_v2_coco_tf"``: the TensorFlow Object Detection API's SSD MobileNet v2
  (COCO, 2018-03-29) as a *frozen graph* ``frozen_inference_graph.pb`` (inside a ``.tar.gz``)
  plus the text graph ``.pbtxt`` OpenCV's TensorFlow importer needs, from ``opencv_extra``;
  loaded with ``cv2.dnn.readNetFromTensorflow(pb, pbtxt)`` (OpenCV 4.x). opencv-python 5.x has
  no ``readNetFromTensorflow`` in Python; :func:`load_net` then tries ``cv2.dnn.readNet`` and
  says clearly if that fails too;
* ``"nanodet_plus_zoo"`` and ``"yolox_s_zoo"``: ONNX detectors of the OpenCV Model Zoo
  (``opencv/opencv_zoo``, 2022-11 versions), loaded with ``cv2.dnn.readNetFromONNX``.

URLs: the TensorFlow archive (``download.tensorflow.org/models/object_detection/...``), the
``opencv_extra`` ``.pbtxt`` and the two ``opencv_zoo`` ``.onnx`` files are the addresses public
OpenCV samples and scripts use; they were *not* fetched from here (no internet), so they are
unverified, and no checksum is recorded for any of them (none is published next to the files);
they are downloaded unverified and a missing file raises :class:`ModelUnavailableError`.
The branch of ``opencv_extra`` is ``4.x`` (formerly ``master``).

Files go to ``cache_dir`` (default ``~/.cache/dlcv/opencv_zoo``) and are reused; archives are
extracted with :func:`dlcv_utils.datasets.download.safe_extract`.

Taught in lesson 07 (OpenCV DNN).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dlcv_utils.datasets.download import DownloadError, download_file, file_checksum, safe_extract

__all__ = [
    "MODELS",
    "ModelUnavailableError",
    "ZooFile",
    "ZooModel",
    "default_cache_dir",
    "fetch_model",
    "load_net",
]


class ModelUnavailableError(RuntimeError):
    """A pretrained model cannot be downloaded here (offline, server error, bad checksum)."""


@dataclass(frozen=True)
class ZooFile:
    """One file of a model.

    Attributes:
        url: where to download it.
        filename: the name in the cache (an archive keeps its own name).
        member: for an archive, the path of the wanted file inside it; ``None`` otherwise.
        sha256: expected sha256 hex digest, or ``None`` (unverified).
    """

    url: str
    filename: str
    member: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ZooModel:
    """A pretrained detector OpenCV can load.

    Attributes:
        name: key in :data:`MODELS`.
        framework: ``"onnx"`` or ``"tensorflow"``.
        model: the weights file (``.onnx`` or frozen ``.pb``).
        config: the text graph (``.pbtxt``) for TensorFlow, ``None`` for ONNX.
        input_size: ``(width, height)`` the network expects.
        note: what it is, for the learner.
    """

    name: str
    framework: str
    model: ZooFile
    config: ZooFile | None = None
    input_size: tuple[int, int] = (300, 300)
    note: str = ""


_TF = "http://download.tensorflow.org/models/object_detection/"
_EXTRA = "https://raw.githubusercontent.com/opencv/opencv_extra/4.x/testdata/dnn/"
_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models/"

#: name -> model (URLs unverified from here, see the module docstring)
MODELS: dict[str, ZooModel] = {
    "ssd_mobilenet_v2_coco_tf": ZooModel(
        "ssd_mobilenet_v2_coco_tf",
        "tensorflow",
        ZooFile(
            _TF + "ssd_mobilenet_v2_coco_2018_03_29.tar.gz",
            "ssd_mobilenet_v2_coco_2018_03_29.tar.gz",
            member="ssd_mobilenet_v2_coco_2018_03_29/frozen_inference_graph.pb",
        ),
        ZooFile(
            _EXTRA + "ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
            "ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
        ),
        (300, 300),
        "TF Object Detection API SSD MobileNet v2, COCO; output [1, 1, N, 7] rows "
        "(image, class, score, x1, y1, x2, y2) with coordinates in [0, 1]. ~180 MB archive.",
    ),
    "nanodet_plus_zoo": ZooModel(
        "nanodet_plus_zoo",
        "onnx",
        ZooFile(
            _ZOO + "object_detection_nanodet/object_detection_nanodet_2022nov.onnx",
            "object_detection_nanodet_2022nov.onnx",
        ),
        None,
        (416, 416),
        "OpenCV Model Zoo NanoDet-Plus-m (COCO, 80 classes), ~4 MB; raw head outputs, decoded "
        "as in opencv_zoo/models/object_detection_nanodet/nanodet.py.",
    ),
    "yolox_s_zoo": ZooModel(
        "yolox_s_zoo",
        "onnx",
        ZooFile(
            _ZOO + "object_detection_yolox/object_detection_yolox_2022nov.onnx",
            "object_detection_yolox_2022nov.onnx",
        ),
        None,
        (640, 640),
        "OpenCV Model Zoo YOLOX-S (COCO, 80 classes), ~35 MB; raw grid outputs.",
    ),
}


def default_cache_dir() -> Path:
    """``opencv_zoo`` in :func:`dlcv_utils.runtime.cache_dir` (``$DLCV_CACHE``, else
    ``~/.cache/dlcv``)."""
    from dlcv_utils.runtime import cache_dir

    return cache_dir() / "opencv_zoo"


def _resolve(model: str | ZooModel) -> ZooModel:
    if isinstance(model, ZooModel):
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a name or a ZooModel, got {type(model).__name__}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    return MODELS[model]


def _fetch_file(
    zf: ZooFile, folder: Path, timeout: float, progress: bool, allow_download: bool
) -> Path:
    target = folder / (zf.member if zf.member else zf.filename)
    if target.is_file():
        return target
    archive = folder / zf.filename
    if not archive.is_file():
        if not allow_download:
            raise ModelUnavailableError(
                f"{zf.filename} is not in the cache {folder} and allow_download=False"
            )
        try:
            download_file(zf.url, archive, progress=progress, timeout=timeout)
        except DownloadError as exc:
            raise ModelUnavailableError(f"cannot download {zf.url}: {exc}") from exc
    if zf.sha256 is not None:
        got = file_checksum(archive, "sha256")
        if got != zf.sha256:
            archive.unlink()
            raise ModelUnavailableError(
                f"{zf.filename}: sha256 {got} differs from the expected {zf.sha256}; file removed"
            )
    if zf.member is not None:
        safe_extract(archive, folder)
        if not target.is_file():
            raise ModelUnavailableError(f"{zf.filename} has no member {zf.member!r}")
    return target


def fetch_model(
    model: str | ZooModel,
    cache_dir: str | os.PathLike | None = None,
    *,
    timeout: float = 10.0,
    progress: bool = True,
    allow_download: bool = True,
) -> dict[str, Path | None]:
    """Download (once) the files of ``model`` into ``cache_dir/<name>/``.

    Args:
        model: a name in :data:`MODELS` or a :class:`ZooModel`.
        cache_dir: the cache root (default :func:`default_cache_dir`).
        timeout: seconds to wait for a connection / a read.
        progress: show a progress bar.
        allow_download: ``False`` only looks in the cache.

    Returns:
        ``{"model": Path, "config": Path | None}``.

    Raises:
        ValueError / TypeError: unknown model.
        ModelUnavailableError: a file is missing and cannot be downloaded (offline), or its
            checksum differs.

    Example:
        >>> fetch_model("yolox_s_zoo", "/nonexistent", allow_download=False)
        Traceback (most recent call last):
        ...
        dlcv_utils.models.opencv_zoo.ModelUnavailableError: object_detection_yolox_2022nov.onnx is not in the cache /nonexistent/yolox_s_zoo and allow_download=False
    """
    zm = _resolve(model)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = folder / zm.name
    if allow_download:
        folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path | None] = {"model": None, "config": None}
    paths["model"] = _fetch_file(zm.model, folder, timeout, progress, allow_download)
    if zm.config is not None:
        paths["config"] = _fetch_file(zm.config, folder, timeout, progress, allow_download)
    return paths


def load_net(
    model: str | ZooModel,
    cache_dir: str | os.PathLike | None = None,
    **fetch_kwargs,
):
    """Fetch ``model`` (:func:`fetch_model`) and load it into a ``cv2.dnn.Net``.

    ONNX models go through ``cv2.dnn.readNetFromONNX``; TensorFlow frozen graphs through
    ``cv2.dnn.readNetFromTensorflow(pb, pbtxt)`` where this OpenCV has it (4.x), else
    ``cv2.dnn.readNet(pb, pbtxt)``.

    Raises:
        ModelUnavailableError: as :func:`fetch_model`, or when this OpenCV cannot read the
            format (the message names the OpenCV version).
    """
    import cv2

    zm = _resolve(model)
    paths = fetch_model(zm, cache_dir, **fetch_kwargs)
    try:
        if zm.framework == "onnx":
            return cv2.dnn.readNetFromONNX(str(paths["model"]))
        reader = getattr(cv2.dnn, "readNetFromTensorflow", None)
        if reader is not None:
            return reader(str(paths["model"]), str(paths["config"]))
        return cv2.dnn.readNet(str(paths["model"]), str(paths["config"]))
    except cv2.error as exc:
        raise ModelUnavailableError(
            f"OpenCV {cv2.__version__} cannot load {zm.name} ({zm.framework}): "
            f"{str(exc).strip().splitlines()[-1]}; the TensorFlow importer is an OpenCV 4.x "
            "feature (pip install 'opencv-python-headless<5')"
        ) from exc
