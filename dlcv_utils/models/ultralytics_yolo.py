"""Ultralytics YOLO on the shapes data, offline: data layout, training, metrics, export.

Ultralytics (``pip install ultralytics``) is AGPL-3.0 licensed; this course (MIT) imports it
and ships none of its code. Everything here runs without a network connection:

* :func:`offline_ultralytics` points Ultralytics' settings, runs and weights at a folder of
  your choice (never the home directory), turns its online checks, analytics and
  auto-installs off, and places a font file where its plotting code looks, so nothing is
  downloaded. Call it **before** the first ``import ultralytics``.
* :func:`write_shapes_yolo` writes the shapes dataset in the YOLO layout with a ``data.yaml``
  whose ``path`` is absolute (Ultralytics resolves a relative ``path`` against its own
  datasets folder, not against the yaml file).
* :func:`train_yolo` and :func:`val_yolo` call ``YOLO.train``/``YOLO.val`` with the
  offline-safe arguments (no plots, no AMP check, no worker processes);
  :func:`load_yolo_weights` loads a ``yolo11n.pt``-style checkpoint from a folder, downloading
  it only when allowed (Colab), and raises :class:`WeightsUnavailableError` otherwise.
* :func:`yolo_boxes_to_coco` turns Ultralytics' ``[N, 6]`` result rows into COCO results;
  :func:`coco_gt_from_yolo` reads the same labels Ultralytics reads into COCO ground truth;
  :func:`ultralytics_map` recomputes Ultralytics' mAP (its own matching and ``ap_per_class``)
  from COCO-format ground truth and results, so it can be set beside
  :func:`dlcv_utils.metrics.coco_evaluate` on the *same* predictions.

Taught in lesson 10.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dlcv_utils.models.faster_rcnn import WeightsUnavailableError

__all__ = [
    "MAP_TOLERANCE",
    "WeightsUnavailableError",
    "coco_gt_from_yolo",
    "ensure_offline",
    "load_yolo_weights",
    "offline_ultralytics",
    "renumber_results",
    "train_yolo",
    "ultralytics_map",
    "val_yolo",
    "write_shapes_yolo",
    "yolo_boxes_to_coco",
]

#: The largest difference between Ultralytics' mAP and COCO's (``coco_evaluate``) on the same
#: predictions that the course accepts, for mAP@0.5 and mAP@[.5:.95] (see lesson 10): the PR
#: curves are the same, only the integration differs (linear interpolation + trapezoid with a
#: precision of 1 at recall 0, vs COCO's step lookup at 101 recalls), and COCO keeps at most
#: 100 detections per image and class.
MAP_TOLERANCE = 0.02

_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False", "YOLO_VERBOSE": "False"}


def _import_ultralytics() -> None:
    """Import Ultralytics without letting it change the learner's global print options.

    ``import ultralytics`` sets NumPy's and torch's print options (line width, a float format
    that prints ``20.`` as ``        20``), which would change every later printed array in the
    notebook. The options in force before the import are restored after it.
    """
    if "ultralytics" in sys.modules:
        return
    import copy

    import torch
    from torch._tensor_str import PRINT_OPTS

    numpy_options = np.get_printoptions()
    torch_options = copy.copy(vars(PRINT_OPTS))
    try:
        import ultralytics  # noqa: F401
    finally:
        np.set_printoptions(**numpy_options)
        torch.set_printoptions(
            precision=torch_options["precision"],
            threshold=torch_options["threshold"],
            edgeitems=torch_options["edgeitems"],
            linewidth=torch_options["linewidth"],
            sci_mode=torch_options["sci_mode"],
        )


def offline_ultralytics(config_dir: str | os.PathLike, *, offline: bool = True) -> Path:
    """Make Ultralytics work offline with all its files under ``config_dir``.

    Sets ``YOLO_CONFIG_DIR`` (Ultralytics keeps its settings in ``config_dir/Ultralytics``),
    ``YOLO_OFFLINE=1`` (no online checks, no analytics), ``YOLO_AUTOINSTALL=False`` (no
    ``pip install`` of missing export packages) and ``YOLO_VERBOSE=False`` (warnings only),
    copies matplotlib's DejaVu Sans to ``config_dir/Ultralytics/Arial.ttf`` (Ultralytics'
    dataset check looks for that font there and downloads it when missing), then points the
    ``datasets_dir``, ``weights_dir`` and ``runs_dir`` settings into ``config_dir`` and turns
    ``sync`` off.

    Args:
        config_dir: a writable folder (created); e.g. a temporary one or ``build/ultralytics``.
        offline: set ``YOLO_OFFLINE=1``; pass ``False`` where downloads should work (Colab,
            for :func:`load_yolo_weights`); the other measures stay.

    Returns:
        Ultralytics' settings folder, ``config_dir/Ultralytics``, as an absolute path.

    Raises:
        RuntimeError: Ultralytics was already imported with another settings folder (its
            folder is fixed at import time; restart the kernel and call this first).

    Example:
        >>> import tempfile
        >>> cfg = offline_ultralytics(tempfile.mkdtemp())  # doctest: +SKIP
        >>> (cfg / "Arial.ttf").is_file()  # doctest: +SKIP
        True
    """
    config_dir = Path(config_dir).resolve()
    settings_dir = config_dir / "Ultralytics"  # Ultralytics appends this to YOLO_CONFIG_DIR
    if "ultralytics" in sys.modules:
        from ultralytics.utils import USER_CONFIG_DIR

        if Path(USER_CONFIG_DIR).resolve() != settings_dir:
            raise RuntimeError(
                f"ultralytics was imported before offline_ultralytics({str(config_dir)!r}) "
                f"with settings in {USER_CONFIG_DIR}; restart and call it before importing "
                "ultralytics"
            )
    settings_dir.mkdir(parents=True, exist_ok=True)
    font = settings_dir / "Arial.ttf"
    if not font.is_file():
        import matplotlib

        shutil.copyfile(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", font)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.update(_ENV)
    if not offline:
        os.environ.pop("YOLO_OFFLINE")
    _import_ultralytics()
    from ultralytics.utils import SETTINGS

    SETTINGS.update(
        sync=False,
        datasets_dir=str(config_dir / "datasets"),
        weights_dir=str(config_dir / "weights"),
        runs_dir=str(config_dir / "runs"),
    )
    return settings_dir


def ensure_offline() -> Path:
    """Call :func:`offline_ultralytics` with a temporary folder unless it was set up already.

    Every function of this module that imports Ultralytics calls this first, so importing it
    never writes a settings file into the home directory nor looks for the network. When
    ``YOLO_CONFIG_DIR`` is set, or Ultralytics is already imported, nothing changes.

    Returns:
        Ultralytics' settings folder.

    Example:
        >>> ensure_offline().is_dir()
        True
    """
    if "ultralytics" in sys.modules or os.environ.get("YOLO_CONFIG_DIR"):
        if "ultralytics" not in sys.modules:
            os.environ.update(_ENV)
        if "ultralytics" in sys.modules:
            return _imported_config_dir()
        return Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    import tempfile

    return offline_ultralytics(
        Path(tempfile.gettempdir()) / f"dlcv-ultralytics-{getattr(os, 'getuid', int)()}"
    )


def _imported_config_dir() -> Path:
    from ultralytics.utils import USER_CONFIG_DIR

    return Path(USER_CONFIG_DIR)


def write_shapes_yolo(
    root: str | os.PathLike,
    *,
    n_train: int,
    n_val: int,
    image_size: int = 128,
    seed: int = 0,
) -> Path:
    """Write the shapes train/val splits in the YOLO layout; return an absolute ``data.yaml``.

    The images and labels come from :func:`dlcv_utils.datasets.shapes.build_shapes` (cached
    under ``root/yolo``); the returned ``root/data.yaml`` is that layout's ``data.yaml`` with
    ``path`` made absolute, which is what ``YOLO.train(data=...)`` needs.

    Args:
        root: output folder.
        n_train: training images.
        n_val: validation images.
        image_size: image side in pixels.
        seed: dataset seed.

    Returns:
        Path of the ``data.yaml`` to pass to Ultralytics.

    Example:
        >>> import tempfile, yaml
        >>> p = write_shapes_yolo(tempfile.mkdtemp(), n_train=2, n_val=1, image_size=64)
        >>> data = yaml.safe_load(p.read_text())
        >>> data["nc"], data["train"], Path(data["path"]).is_absolute()
        (5, 'images/train', True)
    """
    import yaml

    from dlcv_utils.datasets.shapes import build_shapes
    from dlcv_utils.datasets.yolo import read_data_yaml
    from dlcv_utils.validation import check_int

    check_int(n_train, "n_train", minimum=1)
    check_int(n_val, "n_val", minimum=1)
    root = Path(root).resolve()
    sizes = {"train": n_train, "val": n_val}
    build_shapes(root, formats=("yolo",), sizes=sizes, image_size=image_size, seed=seed)
    layout = root / "yolo"
    data = read_data_yaml(layout / "data.yaml")
    data = {
        "path": str(layout),
        "train": "images/train",
        "val": "images/val",
        "nc": len(data["names"]),
        "names": dict(enumerate(data["names"])),
    }
    out = root / "data.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=True))
    return out


def _train_args(**overrides: Any) -> dict[str, Any]:
    args = {
        "device": "cpu",
        "workers": 0,  # no worker processes: 2-core machines, notebooks
        "plots": False,  # no figures, so no font lookups
        "amp": False,  # no AMP check (it would download yolo11n.pt on a GPU)
        "verbose": False,
        "exist_ok": True,
        "deterministic": True,
    }
    args.update(overrides)
    return args


def train_yolo(
    model,
    data_yaml: str | os.PathLike,
    *,
    project: str | os.PathLike,
    name: str = "train",
    **kwargs: Any,
):
    """``model.train(...)`` with the offline-safe defaults; returns the trainer's metrics.

    Defaults (override any with ``kwargs``): ``device="cpu"``, ``workers=0``, ``plots=False``,
    ``amp=False``, ``verbose=False``, ``exist_ok=True``, ``deterministic=True``. Runs are
    written to ``project/name`` (never the working directory).

    Args:
        model: an ``ultralytics.YOLO``.
        data_yaml: from :func:`write_shapes_yolo`.
        project: folder of the runs.
        name: the run's sub-folder.
        **kwargs: any ``YOLO.train`` argument (``epochs``, ``imgsz``, ``batch``, ``lr0``...).

    Returns:
        ``(metrics, seconds)``: the final validation's ``DetMetrics`` and the training time.

    Raises:
        FileNotFoundError: ``data_yaml`` does not exist.
    """
    import time

    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"data_yaml: no such file: {data_yaml}")
    t0 = time.perf_counter()
    metrics = model.train(
        data=str(data_yaml), **_train_args(project=str(project), name=name, **kwargs)
    )
    return metrics, time.perf_counter() - t0


def val_yolo(model, data_yaml: str | os.PathLike, *, project, name: str = "val", **kwargs: Any):
    """``model.val(...)`` offline, writing its predictions as COCO results.

    ``save_json=True`` makes the validator write every prediction it scored (the ones at
    ``conf >= 0.001`` after NMS, at most ``max_det=300`` per image) to
    ``project/name/predictions.json``; the same list is returned.

    Returns:
        ``(metrics, predictions)``: Ultralytics' ``DetMetrics`` and the COCO results list
        (``image_id`` is the image file's stem, ``category_id`` the class index + 1).
    """
    import json

    args = _train_args(project=str(project), name=name, save_json=True, **kwargs)
    for key in ("amp", "deterministic", "workers"):
        args.pop(key)
    metrics = model.val(data=str(data_yaml), **args)
    predictions = json.loads((Path(metrics.save_dir) / "predictions.json").read_text())
    return metrics, predictions


def load_yolo_weights(
    name: str = "yolo11n.pt",
    weights_dir: str | os.PathLike | None = None,
    *,
    allow_download: bool = False,
):
    """Load a pretrained Ultralytics checkpoint, e.g. COCO-trained ``yolo11n.pt``.

    Looks for ``weights_dir/name``; when it is missing and ``allow_download``, Ultralytics
    downloads it there from its GitHub release assets (about 5.4 MB for ``yolo11n.pt``; works
    on Colab). Offline, or with ``allow_download=False``, a missing file raises
    :class:`WeightsUnavailableError` at once.

    Args:
        name: the checkpoint's file name (``yolo11n.pt``, ``yolov8n.pt``...).
        weights_dir: folder of the checkpoints; default Ultralytics' ``weights_dir`` setting.
        allow_download: try the network when the file is missing.

    Returns:
        An ``ultralytics.YOLO``.

    Raises:
        ValueError: ``name`` is not a ``.pt`` file name.
        WeightsUnavailableError: the file is missing and cannot be downloaded.
    """
    if not isinstance(name, str) or not name.endswith(".pt") or Path(name).name != name:
        raise ValueError(f"name must be a checkpoint file name like 'yolo11n.pt', got {name!r}")
    ensure_offline()
    from ultralytics import YOLO
    from ultralytics.utils import ONLINE, SETTINGS

    folder = Path(weights_dir if weights_dir is not None else SETTINGS["weights_dir"])
    path = folder / name
    if not path.is_file():
        if not (allow_download and ONLINE):
            why = "downloads are off" if not allow_download else "offline"
            raise WeightsUnavailableError(
                f"{path} does not exist and {why}; on Colab pass allow_download=True"
            )
        from ultralytics.utils.downloads import attempt_download_asset

        folder.mkdir(parents=True, exist_ok=True)
        try:
            attempt_download_asset(path)
        except Exception as exc:  # network errors of every kind
            raise WeightsUnavailableError(f"could not download {name}: {exc}") from exc
        if not path.is_file():
            raise WeightsUnavailableError(f"could not download {name} to {path}")
    return YOLO(str(path))


def yolo_boxes_to_coco(data, image_id, *, category_offset: int = 1) -> list[dict]:
    """Ultralytics result rows ``[N, 6]`` ``(x1, y1, x2, y2, conf, cls)`` -> COCO results.

    ``Results.boxes.data`` holds one row per detection in pixels (xyxy); COCO results want
    ``bbox = [x, y, w, h]`` and ``category_id = cls + category_offset`` (COCO ids start at 1).

    Args:
        data: ``Tensor[N, 6]`` or array.
        image_id: the COCO image id of these detections.
        category_offset: added to the class index.

    Returns:
        One dict per row: ``image_id``, ``category_id``, ``bbox``, ``score``.

    Raises:
        ValueError: ``data`` is not ``[N, 6]``.

    Example:
        >>> yolo_boxes_to_coco([[10, 20, 30, 60, 0.9, 2]], image_id=7)
        [{'image_id': 7, 'category_id': 3, 'bbox': [10.0, 20.0, 20.0, 40.0], 'score': 0.9}]
    """
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 6:
        raise ValueError(f"data must be [N, 6] (x1, y1, x2, y2, conf, cls), got {arr.shape}")
    out = []
    for x1, y1, x2, y2, conf, cls in arr.tolist():
        out.append(
            {
                "image_id": image_id,
                "category_id": int(cls) + category_offset,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": conf,
            }
        )
    return out


def renumber_results(results: list[dict], stem_to_id: dict) -> list[dict]:
    """Ultralytics' ``predictions.json`` with its file-stem ``image_id``s replaced by COCO ids.

    Raises:
        ValueError: a result's image is not in ``stem_to_id``.

    Example:
        >>> renumber_results([{"image_id": "val_000003", "score": 0.5}], {"val_000003": 4})
        [{'image_id': 4, 'score': 0.5}]
    """
    out = []
    for r in results:
        key = str(r["image_id"])
        if key not in stem_to_id:
            raise ValueError(f"results: image {key!r} is not in stem_to_id")
        out.append({**r, "image_id": stem_to_id[key]})
    return out


def coco_gt_from_yolo(data_yaml: str | os.PathLike, split: str = "val") -> tuple[dict, dict]:
    """COCO ground truth from the YOLO labels Ultralytics reads (the same rounded numbers).

    Images get ids ``1..N`` in file-name order; ``area`` is the box area, ``iscrowd`` 0.

    Args:
        data_yaml: a ``data.yaml`` (from :func:`write_shapes_yolo`).
        split: the split to read.

    Returns:
        ``(coco_gt, stem_to_id)``: the COCO dict, and the image file stem -> image id map used
        to renumber Ultralytics' ``predictions.json``.

    Example:
        >>> import tempfile
        >>> gt, ids = coco_gt_from_yolo(write_shapes_yolo(tempfile.mkdtemp(), n_train=1, n_val=2))
        >>> len(gt["images"]), sorted(ids.values()), gt["categories"][0]
        (2, [1, 2], {'id': 1, 'name': 'circle'})
    """
    from dlcv_utils.datasets.yolo import read_data_yaml, read_split

    data = read_data_yaml(data_yaml)
    classes = list(data["names"])
    records, _ = read_split(Path(data["path"]), split)
    coco = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(classes)],
    }
    stem_to_id = {}
    for image_id, rec in enumerate(sorted(records, key=lambda r: r.file_name), start=1):
        stem_to_id[Path(rec.file_name).stem] = image_id
        coco["images"].append(
            {"id": image_id, "file_name": rec.file_name, "width": rec.width, "height": rec.height}
        )
        for obj in rec.objects:
            x1, y1, x2, y2 = (float(v) for v in obj.bbox)
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": classes.index(obj.label) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    return coco, stem_to_id


def ultralytics_map(coco_gt: dict, results: list[dict]) -> dict[str, Any]:
    """Ultralytics' own mAP (validator matching + ``ap_per_class``) on COCO-format input.

    Per image, predictions are sorted by confidence and matched greedily to unclaimed
    same-class targets at each of 10 IoU thresholds (``BaseValidator.match_predictions``);
    ``ultralytics.utils.metrics.ap_per_class`` then builds each class's PR curve and
    integrates it with ``compute_ap``. No crowd, area or max-detections rules.

    Args:
        coco_gt: COCO ground truth (``images``, ``annotations``, ``categories``).
        results: COCO results (``image_id``, ``category_id``, ``bbox`` xywh, ``score``).

    Returns:
        ``map50``, ``map`` and ``per_class_ap50`` (``{category id: AP@0.5}``).

    Raises:
        ValueError: a result names an image id that is not in ``coco_gt``.

    Example:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}
        >>> r = ultralytics_map(gt, [{"image_id": 1, "category_id": 1,
        ...                           "bbox": [0, 0, 10, 10], "score": 0.9}])
        >>> round(r["map50"], 3), round(r["map"], 3)
        (0.995, 0.995)
    """
    from types import SimpleNamespace

    import torch

    ensure_offline()
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    cat_ids = sorted(c["id"] for c in coco_gt["categories"])
    cat_index = {c: i for i, c in enumerate(cat_ids)}
    image_ids = [im["id"] for im in coco_gt["images"]]
    known = set(image_ids)
    gts = {i: [] for i in image_ids}
    for a in coco_gt["annotations"]:
        gts[a["image_id"]].append(a)
    dets = {i: [] for i in image_ids}
    for d in results:
        if d["image_id"] not in known:
            raise ValueError(f"results: image_id {d['image_id']!r} is not in coco_gt")
        dets[d["image_id"]].append(d)
    this = SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))

    def xyxy(records):
        b = torch.tensor([r["bbox"] for r in records], dtype=torch.float32).reshape(-1, 4)
        return torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], dim=1)

    tps, confs, pcls, tcls = [], [], [], []
    for i in image_ids:
        d = sorted(dets[i], key=lambda r: -r["score"])
        g = gts[i]
        t_cls = torch.tensor([cat_index[a["category_id"]] for a in g], dtype=torch.float32)
        p_cls = torch.tensor([cat_index[r["category_id"]] for r in d], dtype=torch.float32)
        tcls.append(t_cls.numpy())
        if not d:
            continue
        if g:
            iou = box_iou(xyxy(g), xyxy(d))
            tp = BaseValidator.match_predictions(this, p_cls, t_cls, iou).numpy()
        else:
            tp = np.zeros((len(d), 10), dtype=bool)
        tps.append(tp)
        confs.append(np.array([r["score"] for r in d]))
        pcls.append(p_cls.numpy())
    if not tps:
        return {"map50": 0.0, "map": 0.0, "per_class_ap50": {}}
    out = ap_per_class(
        np.concatenate(tps), np.concatenate(confs), np.concatenate(pcls), np.concatenate(tcls)
    )
    ap, classes = out[5], out[6]
    return {
        "map50": float(ap[:, 0].mean()) if len(ap) else 0.0,
        "map": float(ap.mean()) if len(ap) else 0.0,
        "per_class_ap50": {cat_ids[int(c)]: float(a) for c, a in zip(classes, ap[:, 0])},
    }
