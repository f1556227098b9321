"""COCO-style evaluation (AP@[.5:.95], AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l), vectorised.

Taught in lesson 01.

:func:`coco_evaluate` gives the same numbers as pycocotools' ``COCOeval`` (``evaluate``,
``accumulate``, ``summarize`` with the default ``Params``), including its quirks, without a
Python loop over (image, category, area range, IoU threshold):

* IoU of ``[x, y, w, h]`` boxes computed with the same floating-point operations as
  pycocotools' C ``bbIou`` (no ``+1``; a crowd box's "union" is the detection's area).
* Detections sorted by score with a stable sort and cut to the best 100 **per image and
  category**; the greedy matching runs for all 10 IoU thresholds and all 4 area ranges at once,
  one detection rank at a time over all (image, category) groups together. A match needs
  ``IoU >= t``; a regular ground truth beats an ignored or crowd one; on equal IoU the later
  ground truth (annotation order) wins; crowd boxes can be matched many times.
* ``ignore`` comes from ``iscrowd`` only (an explicit ``ignore`` field is overwritten, as in
  pycocotools); area ranges use the annotation's ``area`` field with inclusive bounds.
* Accumulation uses one stable sort per category (ties broken by image id, then by rank in
  the image), pycocotools' ``tp / (tp + fp + eps)`` precision, the recall thresholds
  ``np.linspace(0, 1, 101)`` with a left ``searchsorted`` step lookup, and ``-1`` for slices
  without ground truth.
* **Annotation id 0**: pycocotools stores the *id* of the matched ground truth and reads 0 as
  "unmatched", so a detection matched to an annotation with ``id == 0`` counts as a false
  positive. We replicate this (conformance first) and warn; renumber ids from 1 to avoid it.

Where pycocotools fails we return defined values instead: an empty detection list gives AP and
AR 0 for every slice with ground truth (-1 without); a ground truth without ``area`` uses the box
area ``w * h``; a missing ``iscrowd`` means 0. Detections for an image or category id that is not
in ``coco_gt`` raise ``ValueError`` (pycocotools asserts on images and silently drops unknown
categories).

Stricter than pycocotools (it would silently drop or mis-handle these): ground-truth
annotations whose image or category is not listed, and duplicate annotation ids, raise
``ValueError``. Only pycocotools' default ``Params`` are supported (10 IoU thresholds, 101
recall thresholds, maxDets 1/10/100, the 4 COCO area ranges).

How it stays fast with numpy only: (1) IoU is computed once, for the (detection, ground truth)
pairs of the same image and category, in chunks, and only pairs with IoU >= 0.5 are kept (no
other pair can ever match); (2) the greedy matching walks the detection ranks (at most 100),
handling every (image, category) group, IoU threshold and area range of that rank in one
vectorised step; (3) accumulation needs only the sparse matched detections: precision can only
rise at a true positive, so the envelope is evaluated at true positives, and the false
positives before a true positive are "in-range detections minus matched in-range detections".

For ``iou_type="segm"`` (taught in lesson 13) the mask IoUs are pycocotools' own: one
``pycocotools.mask.iou`` call per image (:func:`dlcv_utils.metrics.mask_iou.mask_iou_by_image`)
on the masks that share an image, a category and at least one image column with a mask of the
other side (any other pair has IoU exactly 0), leaving out pairs whose mask areas alone bound
the IoU below 0.5 (``min / max`` of the areas; ``gt / det`` area for a crowd region). The C code divides the integer intersection by
the integer union (by the detection's area for a crowd region) in double precision, so the
values are bit for bit those of ``COCOeval.computeIoU``. Every mask is checked before it reaches
the C code (which hangs or crashes on run lengths that do not add up to ``height * width``):
compressed RLEs of the right size, the usual results file, all at once with numpy
(:func:`dlcv_utils.metrics.mask_iou.decode_rle_counts`); single plain polygons together, one
``frPyObjects`` call per image size; anything else one at a time with
:func:`dlcv_utils.datasets.masks.check_segmentation`, which names the first bad annotation or
detection. As in pycocotools' ``loadRes``, when the results carry a ``bbox`` the detection area
used for the area ranges is the box area ``w * h`` (the IoU still uses the masks); otherwise it
is the mask area. ``benchmarks/bench_metrics.py --iou-type segm`` times it against pycocotools
and faster-coco-eval.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from typing import Any

import numpy as np

from dlcv_utils.metrics.ap import COCO_RECALL_THRESHOLDS
from dlcv_utils.metrics.mask_iou import decode_rle_counts, mask_iou_by_image

__all__ = [
    "AREA_LABELS",
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "RECALL_THRESHOLDS",
    "STAT_KEYS",
    "coco_evaluate",
]

#: pycocotools' IoU thresholds, bit for bit (0.9 is stored as 0.8999999999999999).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: pycocotools' recall thresholds, bit for bit.
RECALL_THRESHOLDS = COCO_RECALL_THRESHOLDS
MAX_DETS = (1, 10, 100)
AREA_RANGES = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")
STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

_IOU_TYPES = ("bbox", "segm")
_PAIR_CHUNK = 1 << 18  # (detection, ground truth) pairs per IoU chunk (bounds memory)


# ----------------------------------------------------------------------------- input parsing
def _load(obj, name: str, kind: type):
    if isinstance(obj, (str, os.PathLike)):
        path = obj
        try:
            with open(path, encoding="utf-8") as f:
                obj = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{name}: {path}: malformed JSON at line {err.lineno}, column {err.colno}: "
                f"{err.msg}"
            ) from None
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}: {path}: not UTF-8 text (byte {err.start})") from None
    if not isinstance(obj, kind):
        raise TypeError(
            f"{name} must be a {kind.__name__} (or a path to a JSON file holding one), "
            f"got {type(obj).__name__}"
        )
    return obj


def _field(records: list, key: str, where: str) -> list:
    try:
        return [r[key] for r in records]
    except (KeyError, TypeError, IndexError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise TypeError(f"{where}[{i}] must be a dict, got {type(r).__name__}") from None
            if key not in r:
                raise ValueError(f"{where}[{i}] is missing key {key!r}") from None
        raise


def _no_bools(values: list, what: str, kind: str) -> None:
    """``True`` is not the id / score 1: numpy would silently mix it into an int array."""
    types = set(map(type, values))
    if bool not in types and np.bool_ not in types:
        return
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{what} must be {kind}, got {v!r} at index {i}")


def _int_array(values: list, what: str) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    _no_bools(values, what, "integers")
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        bad = next(
            (v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer))),
            values[0],
        )
        raise TypeError(f"{what} must be integers, got {bad!r}")
    return arr.astype(np.int64)


def _float_array(values: list, what: str) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.float64)
    _no_bools(values, what, "numbers")
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        bad = next(
            (
                v
                for v in values
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
            ),
            values[0],
        )
        raise TypeError(f"{what} must be numbers, got {bad!r}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(f"{what} must be finite, got {arr[i]} at index {i}")
    return arr


def _bbox_array(values: list, what: str) -> np.ndarray:
    if len(values) == 0:
        return np.zeros((0, 4), dtype=np.float64)
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1] != 4:
        bad = next((i for i, v in enumerate(values) if not hasattr(v, "__len__") or len(v) != 4), 0)
        raise ValueError(
            f"{what}[{bad}] must be a list of 4 numbers [x, y, w, h], got {values[bad]!r}"
        )
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{what} must hold numbers [x, y, w, h], got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        i = int(np.argmax(~finite))
        raise ValueError(f"{what}[{i}] must be finite, got {arr[i].tolist()}")
    neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if neg.any():
        i = int(np.argmax(neg))
        raise ValueError(
            f"{what}[{i}] has a negative width or height: [x, y, w, h] = {arr[i].tolist()}"
        )
    return arr


def _lookup(ids: np.ndarray, table: np.ndarray, what: str) -> np.ndarray:
    """Ranks of ``ids`` in the sorted unique ``table``; ValueError naming an unknown id."""
    rank = np.searchsorted(table, ids)
    ok = rank < len(table)
    ok[ok] = table[rank[ok]] == ids[ok]
    if not ok.all():
        i = int(np.argmax(~ok))
        raise ValueError(f"{what}[{i}] = {int(ids[i])} is not an id in coco_gt")
    return rank


def _parse_gt(coco_gt: dict, iou_type: str) -> dict[str, Any]:
    for key in ("images", "annotations", "categories"):
        if key not in coco_gt:
            raise ValueError(f"coco_gt is missing key {key!r}")
        if not isinstance(coco_gt[key], list):
            raise TypeError(f"coco_gt[{key!r}] must be a list, got {type(coco_gt[key]).__name__}")
    images, anns, cats = coco_gt["images"], coco_gt["annotations"], coco_gt["categories"]
    image_ids = _int_array(_field(images, "id", "coco_gt['images']"), "coco_gt['images'] id")
    cat_ids = _int_array(_field(cats, "id", "coco_gt['categories']"), "coco_gt['categories'] id")
    img_table = np.unique(image_ids)
    cat_table = np.unique(cat_ids)
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    where = "coco_gt['annotations']"
    g_img = _lookup(
        _int_array(_field(anns, "image_id", where), f"{where} image_id"),
        img_table,
        f"{where} image_id",
    )
    g_cat = _lookup(
        _int_array(_field(anns, "category_id", where), f"{where} category_id"),
        cat_table,
        f"{where} category_id",
    )
    g_id = _int_array(_field(anns, "id", where), f"{where} id")
    if len(np.unique(g_id)) != len(g_id):
        uniq, counts = np.unique(g_id, return_counts=True)
        raise ValueError(f"{where} ids must be unique, id {int(uniq[counts > 1][0])} repeats")
    g_box = _bbox_array(_field(anns, "bbox", where), f"{where} bbox")
    has_area = np.array([("area" in a) for a in anns], dtype=bool)
    area = _float_array([a.get("area", 0.0) for a in anns], f"{where} area")
    area[~has_area] = g_box[~has_area, 2] * g_box[~has_area, 3]
    if (area < 0).any():
        i = int(np.argmax(area < 0))
        raise ValueError(f"{where}[{i}] area must be >= 0, got {area[i]}")
    crowd_raw = [a.get("iscrowd", 0) for a in anns]
    bad = next((i for i, c in enumerate(crowd_raw) if c not in (0, 1)), None)
    if bad is not None:
        raise ValueError(f"{where}[{bad}] iscrowd must be 0 or 1, got {crowd_raw[bad]!r}")
    crowd = np.array(crowd_raw, dtype=bool).reshape(-1)
    out = {
        "img_table": img_table,
        "cat_table": cat_table,
        "names": names,
        "img": g_img,
        "cat": g_cat,
        "id": g_id,
        "box": g_box,
        "area": area,
        "crowd": crowd,
    }
    if iou_type == "segm":
        from pycocotools import mask as mask_utils

        hw = {}
        for im in images:
            if "height" not in im or "width" not in im:
                raise ValueError(f"coco_gt['images'] entry {im.get('id')} needs height and width")
            hw[int(im["id"])] = _image_hw(im)
        g_hw = np.array([hw[int(a["image_id"])] for a in anns], dtype=np.int64).reshape(-1, 2)
        rles = _single_polygon_rles(anns, g_hw, mask_utils)
        for i, a in enumerate(anns):
            if rles[i] is not None:
                continue
            if "segmentation" not in a:
                raise ValueError(f"{where}[{i}] is missing key 'segmentation'")
            h, w = g_hw[i].tolist()
            try:
                rles[i] = _to_rle(a["segmentation"], h, w, mask_utils)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}[{i}] {exc}") from None
        out["rle"] = rles
        out["hw"] = hw
        dec = decode_rle_counts([r["counts"] for r in rles], g_hw[:, 0] * g_hw[:, 1])
        cols = np.stack([np.zeros(len(anns), dtype=np.int64), g_hw[:, 1] - 1], axis=1)
        cols[dec.ok] = _columns(dec.span[dec.ok], g_hw[dec.ok, 0])
        out["cols"] = cols
        mask_area = dec.areas.astype(np.float64)
        for i in np.flatnonzero(~dec.ok).tolist():
            mask_area[i] = float(mask_utils.area(rles[i]))
        out["mask_area"] = mask_area
    return out


def _columns(span: np.ndarray, height: np.ndarray) -> np.ndarray:
    """``span // height[:, None]``: flat column-major pixel indices ``[N, 2]`` to columns."""
    if len(height) and (height == height[0]).all():
        return span // height[0]  # one image height (the usual case): a scalar divisor
    return span // height[:, None]


def _single_polygon_rles(anns: list, hw: np.ndarray, mask_utils) -> list:
    """RLEs of the annotations whose segmentation is one plain polygon, ``None`` for the rest.

    The polygons are checked together (what ``check_segmentation`` checks: at least 6 and an
    even number of finite ``int``/``float`` coordinates, each within one image size of the
    image) and converted with one ``frPyObjects`` call per image. For a single polygon,
    pycocotools' ``merge(frPyObjects([poly]))`` returns the same RLE as ``frPyObjects``.
    """
    out: list = [None] * len(anns)
    cand, polys = [], []
    for i, a in enumerate(anns):
        seg = a.get("segmentation") if type(a) is dict else None
        if type(seg) is list and len(seg) == 1:
            poly = seg[0]
            if type(poly) is list and len(poly) >= 6 and len(poly) % 2 == 0:
                cand.append(i)
                polys.append(poly)
    if not cand:
        return out
    coords = list(itertools.chain.from_iterable(polys))
    if not set(map(type, coords)) <= {int, float}:
        return out
    try:
        xy = np.array(coords, dtype=np.float64)
    except OverflowError:
        return out
    cand_arr = np.array(cand, dtype=np.int64)
    lens = np.fromiter(map(len, polys), dtype=np.int64, count=len(polys))
    side = np.repeat(hw[cand_arr][:, ::-1], lens // 2, axis=0).reshape(-1)  # w, h, w, h, ...
    inside = np.isfinite(xy) & (xy >= -side) & (xy <= 2 * side)
    starts = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    good = np.logical_and.reduceat(inside, starts)
    if not good.any():
        return out
    keys = hw[cand_arr[good]]
    good_idx = np.flatnonzero(good)
    # one call per image size (polygons of images of the same size convert the same way)
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    good_idx, keys = good_idx[order], keys[order]
    bounds = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1), True])
    for b0, b1 in itertools.pairwise(bounds.tolist()):
        sel = good_idx[b0:b1].tolist()
        h, w = keys[b0].tolist()
        # views of ``xy`` (the same float64 values that pycocotools would make of the lists)
        views = [xy[a : a + b] for a, b in zip(starts[sel].tolist(), lens[sel].tolist())]
        for j, rle in zip(sel, mask_utils.frPyObjects(views, h, w)):
            out[cand[j]] = rle
    return out


def _image_hw(im: dict) -> tuple[int, int]:
    h, w = im["height"], im["width"]
    for name, v in (("height", h), ("width", w)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(
                f"coco_gt['images'] entry {im.get('id')}: {name} must be a positive integer, "
                f"got {v!r}"
            )
    return int(h), int(w)


def _plain_polygons(segm: list, h: int, w: int) -> bool:
    """Fast path of ``check_segmentation`` for the usual polygons: lists of plain numbers.

    True only if ``check_segmentation`` would accept them; False means "check them there".
    """
    if not segm:
        return False
    for poly in segm:
        if type(poly) is not list or len(poly) < 6 or len(poly) % 2:
            return False
        if not set(map(type, poly)) <= {int, float}:
            return False
        try:
            xy = np.array(poly, dtype=np.float64)
        except OverflowError:
            return False
        x, y = xy[0::2], xy[1::2]
        if not (np.isfinite(xy).all() and (x >= -w).all() and (x <= 2 * w).all()):
            return False
        if not ((y >= -h).all() and (y <= 2 * h).all()):
            return False
    return True


def _plain_uncompressed(segm: dict, h: int, w: int) -> bool:
    """Fast path of ``check_segmentation`` for an uncompressed RLE of plain ``int`` runs."""
    size, counts = segm.get("size"), segm.get("counts")
    if type(size) is not list or len(size) != 2 or [type(v) for v in size] != [int, int]:
        return False
    if size != [h, w] or type(counts) is not list or not counts:
        return False
    if set(map(type, counts)) != {int}:
        return False
    return min(counts) >= 0 and sum(counts) == h * w


def _to_rle(segm, h, w, mask_utils):
    # pycocotools crashes the interpreter, or runs out of memory, on NaN/huge polygon
    # coordinates and on RLE counts that do not add up to h * w: check first
    from dlcv_utils.datasets.masks import check_segmentation

    if not (
        (type(segm) is list and _plain_polygons(segm, h, w))
        or (type(segm) is dict and _plain_uncompressed(segm, h, w))
    ):
        check_segmentation(segm, h, w, "segmentation")
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm, dict) and isinstance(segm.get("counts"), list):
        return mask_utils.frPyObjects(segm, h, w)
    if isinstance(segm, dict) and "counts" in segm and "size" in segm:
        return segm
    raise ValueError(f"segmentation must be polygons or an RLE dict, got {segm!r:.80}")


def _parse_dt(dets: list, gt: dict[str, Any], iou_type: str) -> dict[str, Any]:
    where = "detections"
    d_img = _lookup(
        _int_array(_field(dets, "image_id", where), f"{where} image_id"),
        gt["img_table"],
        f"{where} image_id",
    )
    d_cat = _lookup(
        _int_array(_field(dets, "category_id", where), f"{where} category_id"),
        gt["cat_table"],
        f"{where} category_id",
    )
    score = _float_array(_field(dets, "score", where), f"{where} score")
    out = {"img": d_img, "cat": d_cat, "score": score}
    if iou_type == "bbox":
        box = _bbox_array(_field(dets, "bbox", where), f"{where} bbox")
        out["box"] = box
        out["area"] = box[:, 2] * box[:, 3]
    else:
        out["rle"], mask_area, out["cols"] = _parse_dt_masks(dets, d_img, gt)
        out["mask_area"] = mask_area
        if dets and "bbox" in dets[0] and dets[0]["bbox"] != []:
            box = _bbox_array(_field(dets, "bbox", where), f"{where} bbox")
            out["area"] = box[:, 2] * box[:, 3]  # pycocotools' loadRes takes the bbox branch
        else:
            out["area"] = mask_area
    return out


def _compressed_of_size(segs: list, hw: np.ndarray) -> tuple[np.ndarray, list]:
    """Compressed RLE dicts (``counts`` str/bytes) whose ``size`` is ``hw``: indices, counts."""
    n = len(segs)
    if n and set(map(type, segs)) == {dict}:
        try:
            counts = [s["counts"] for s in segs]
            sizes = [s["size"] for s in segs]
        except KeyError:
            counts = None
        if counts is not None and set(map(type, counts)) <= {str, bytes}:
            try:
                arr = np.array(sizes)
            except (ValueError, TypeError):
                arr = None
            # integers only (True would pass as 1, so sizes <= 1 take the slow path)
            if arr is not None and arr.dtype.kind in "iu" and arr.shape == (n, 2):
                if not (arr <= 1).any():
                    match = (arr == hw).all(axis=1)
                    idx = np.flatnonzero(match)
                    return idx, counts if len(idx) == n else [counts[i] for i in idx.tolist()]
    fast = []
    for i, (seg, (h, w)) in enumerate(zip(segs, hw.tolist())):
        if type(seg) is dict and type(seg.get("counts")) in (str, bytes):
            size = seg.get("size")
            if (
                type(size) in (list, tuple)
                and len(size) == 2
                and type(size[0]) is int
                and type(size[1]) is int
                and size[0] == h
                and size[1] == w
            ):
                fast.append(i)
    return np.array(fast, dtype=np.int64), [segs[i]["counts"] for i in fast]


def _parse_dt_masks(dets: list, d_img: np.ndarray, gt: dict[str, Any]) -> tuple:
    """Checked RLEs of the detections, their mask areas and foreground columns ``[N, 2]``.

    Compressed RLEs of the right size (the usual results file) are decoded and checked all at
    once (:func:`~dlcv_utils.metrics.mask_iou.decode_rle_counts`); everything else, and any
    string that fails there, goes through :func:`_to_rle` one at a time, which names the
    first bad detection exactly as before.
    """
    from pycocotools import mask as mask_utils

    where = "detections"
    segs = _field(dets, "segmentation", where)
    n = len(segs)
    hw = np.array([gt["hw"][int(i)] for i in gt["img_table"]], dtype=np.int64).reshape(-1, 2)
    d_hw = hw[d_img]
    fast_idx, fast_counts = _compressed_of_size(segs, d_hw)
    dec = decode_rle_counts(fast_counts, d_hw[fast_idx, 0] * d_hw[fast_idx, 1])
    ok = dec.ok
    rles: list = list(segs)
    done = fast_idx[ok]
    area = np.zeros(n, dtype=np.float64)
    area[done] = dec.areas[ok]
    # image columns that can hold foreground (all columns where not known)
    cols = np.stack([np.zeros(n, dtype=np.int64), d_hw[:, 1] - 1], axis=1)
    cols[done] = _columns(dec.span[ok], d_hw[done, 0])
    checked = np.zeros(n, dtype=bool)
    checked[done] = True
    for i in np.flatnonzero(~checked).tolist():
        h, w = d_hw[i].tolist()
        try:
            rles[i] = _to_rle(segs[i], h, w, mask_utils)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}[{i}] {exc}") from None
        # one at a time, as pycocotools' loadRes does: mask.area on a list of 256 or more
        # RLEs overflows a uint8 inside pycocotools
        area[i] = float(mask_utils.area(rles[i]))
    return rles, area, cols


# ----------------------------------------------------------------------------- core
def _pair_iou_bbox(dbox: np.ndarray, gbox: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Element-wise IoU of paired ``[x, y, w, h]`` boxes, the exact operations of ``bbIou``."""
    dx, dy, dw, dh = dbox.T
    gx, gy, gw, gh = gbox.T
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    da = dw * dh
    union = np.where(crowd, da, da + gw * gh - inter)
    iou = np.zeros(len(w))
    np.divide(inter, union, out=iou, where=(w > 0) & (h > 0))
    return iou


def _group_rank(keys: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal (sorted) keys."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(keys[1:], keys[:-1], out=start[1:])
    idx = np.arange(n)
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def _candidate_pairs(dkey, gkey, dt, gt, iou_type):
    """All (detection, ground truth) pairs of the same (image, category) with IoU >= 0.5."""
    thr = min(IOU_THRESHOLDS.min(), 1 - 1e-10)
    if iou_type == "segm":  # pairs by image inside (no per-detection bookkeeping here)
        return _candidate_pairs_segm(dt, gt, thr)
    gs = np.searchsorted(gkey, dkey, side="left")
    cnt = np.searchsorted(gkey, dkey, side="right") - gs
    pd_list, pg_list, iou_list = [], [], []
    cum = np.cumsum(cnt)
    total = int(cum[-1]) if len(cum) else 0
    if total == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    edges = np.searchsorted(cum, np.arange(_PAIR_CHUNK, total, _PAIR_CHUNK), side="left")
    bounds = np.unique(np.concatenate(([0], edges + 1, [len(dkey)])))
    bounds = np.minimum(bounds, len(dkey))
    for i0, i1 in itertools.pairwise(bounds):
        c = cnt[i0:i1]
        n_pairs = int(c.sum())
        if n_pairs == 0:
            continue
        pd = np.repeat(np.arange(i0, i1), c)
        offs = np.cumsum(c) - c
        pg = gs[pd] + np.arange(n_pairs) - np.repeat(offs, c)
        iou = _pair_iou_bbox(dt["box"][pd], gt["box"][pg], gt["crowd"][pg])
        keep = iou >= thr
        pd_list.append(pd[keep])
        pg_list.append(pg[keep])
        iou_list.append(iou[keep])
    if not pd_list:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    return np.concatenate(pd_list), np.concatenate(pg_list), np.concatenate(iou_list)


def _candidate_pairs_segm(dt, gt, thr):
    """Mask pairs with IoU >= ``thr``, sorted by detection then ground truth (see mask_iou).

    ``mask_iou_by_image`` gets the RLE lists as parsed (no reordered copy of 100,000
    references) and per-mask arrays in that order; detections cut by ``maxDets`` get category
    -1, which no ground truth has.
    """

    def unsorted(order: np.ndarray, n: int, sorted_arrays: tuple, fill) -> list:
        out = []
        for arr, f in zip(sorted_arrays, fill):
            full = np.full((n, *arr.shape[1:]), f, dtype=arr.dtype)
            full[order] = arr
            out.append(full)
        return out

    n_d, n_g = len(dt["rle"]), len(gt["rle"])
    d_img, d_cols, d_area = dt["parsed"]  # in the parsed order already
    (d_cat,) = unsorted(dt["order"], n_d, (dt["cat"],), (-1,))
    g_img, g_cat, g_crowd, g_cols, g_area = unsorted(
        gt["order"],
        n_g,
        (gt["img"], gt["cat"], gt["crowd"], gt["cols"], gt["mask_area"]),
        (0, 0, False, 0, 0),
    )
    pd, pg, piou = mask_iou_by_image(
        dt["rle"],
        d_img,
        d_cat,
        gt["rle"],
        g_img,
        g_cat,
        g_crowd,
        min_iou=thr,
        det_cols=d_cols,
        gt_cols=g_cols,
        det_area=d_area,
        gt_area=g_area,
    )
    # back to the sorted positions
    d_pos = np.empty(n_d, dtype=np.int64)
    d_pos[dt["order"]] = np.arange(len(dt["order"]))
    g_pos = np.empty(n_g, dtype=np.int64)
    g_pos[gt["order"]] = np.arange(len(gt["order"]))
    pd, pg = d_pos[pd], g_pos[pg]
    order = np.lexsort((pg, pd))
    return pd[order], pg[order], piou[order]


def _match(n_det, pd, pg, piou, dkey, gt_nonign, gt_crowd, gt_id_nonzero):
    """Greedy matching for all IoU thresholds and area ranges at once.

    Only detections with at least one candidate pair (IoU >= 0.5) can match. Returns ``cand``
    (their indices, increasing), ``dtm[Nc, T, A]`` (matched to a ground truth with a non-zero
    id) and ``dig[Nc, T, A]`` (matched to a ground truth that is ignored in that area range).
    """
    T, A = len(IOU_THRESHOLDS), gt_nonign.shape[1]
    if len(pd) == 0:
        e = np.zeros((0, T, A), dtype=bool)
        return np.zeros(0, dtype=np.int64), e, e.copy()
    # rank of each candidate detection among the candidates of its (image, category) group
    cand_start = np.r_[True, pd[1:] != pd[:-1]]
    cand = pd[cand_start]
    cidx = np.full(n_det, -1, dtype=np.int64)
    cidx[cand] = np.arange(len(cand))
    crank = _group_rank(dkey[cand])
    pcr = crank[cidx[pd]]
    order = np.lexsort((pg, piou, pd, pcr))
    pd, pg, piou, pcr = pd[order], pg[order], piou[order], pcr[order]
    dtm = np.zeros((len(cand), T, A), dtype=bool)
    dig = np.zeros((len(cand), T, A), dtype=bool)
    matched = np.zeros((len(gt_crowd), T, A), dtype=bool)
    bounds = np.searchsorted(pcr, np.arange(int(pcr[-1]) + 2))
    big = int(np.max(np.bincount(pd))) + 1
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)
    nonign_i = gt_nonign.astype(np.int32) * np.int32(big)
    for r in range(len(bounds) - 1):
        s, e = bounds[r], bounds[r + 1]
        bd, bg, biou = pd[s:e], pg[s:e], piou[s:e]
        n = e - s
        seg = np.flatnonzero(np.r_[True, bd[1:] != bd[:-1]])
        seg_len = np.diff(np.r_[seg, n])
        pos = np.arange(n) - np.repeat(seg, seg_len)
        # a pair can match at (t, a) if IoU >= t and the gt is free (crowds always are);
        # preference: regular gt over ignored, then higher IoU, then later gt
        valid = (biou[:, None] >= thr[None, :])[:, :, None] & (
            ~matched[bg] | gt_crowd[bg][:, None, None]
        )
        val = np.where(valid, (nonign_i[bg] + (pos + 1).astype(np.int32)[:, None])[:, None, :], 0)
        best = np.maximum.reduceat(val, seg, axis=0)
        di, ti, ai = np.nonzero(best)
        g = bg[seg[di] + (best[di, ti, ai] - 1) % big]
        matched[g, ti, ai] = True
        ci = cidx[bd[seg[di]]]
        dtm[ci, ti, ai] = gt_id_nonzero[g]
        dig[ci, ti, ai] = ~gt_nonign[g, ai]
    return cand, dtm, dig


def _accumulate(gt, dt, cand, dtm, dig, d_out, n_cat):
    """pycocotools' ``accumulate``: precision [T,R,K,A,M], recall [T,K,A,M], scores.

    Works on the sparse events only. With ``tp`` the true positives and ``fp`` the false
    positives of one column ``(t, a)`` in pycocotools' order, the precision envelope is only
    needed at true-positive positions (precision can only rise at a TP), and
    ``fp(i) = #in-range dets up to i - #in-range dets matched (to any gt) up to i`` because a
    detection is a false positive iff it is unmatched and inside the area range.
    """
    T, R, A, M = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_RANGES), len(MAX_DETS)
    TA = T * A
    # pycocotools' layouts, filled in place one (maxDets, category) at a time: no second copy
    # to transpose into (fresh memory costs a page fault per 4 KiB, the transpose a TLB miss
    # per element)
    precision = np.full((T, R, n_cat, A, M), -1.0)
    scores = np.full((T, R, n_cat, A, M), -1.0)
    recall = np.full((T, n_cat, A, M), -1.0)
    npig = np.zeros((n_cat, A), dtype=np.int64)
    for a in range(A):
        npig[:, a] = np.bincount(gt["cat"][gt["nonign"][:, a]], minlength=n_cat)
    n_det = len(dt["score"])
    # pycocotools' order inside a category: per-image lists (score-sorted, image-id order)
    # concatenated, then a stable sort on -score. Detections are already sorted by
    # (category, image, rank), so one stable sort on (category, -score) reproduces it.
    a_order = np.argsort(dt["cat"] * dt["n_s"] + dt["srank"], kind="stable")
    pos_a = np.empty(n_det, dtype=np.int64)
    pos_a[a_order] = np.arange(n_det)
    col_a = np.tile(np.arange(A), T)  # column c = t * A + a
    eps = np.spacing(1)
    # sparse flags of the candidate detections, column-major ([TA, Nc]) in pycocotools' order
    co = np.argsort(pos_a[cand], kind="stable")
    cand_a = cand[co]
    tp_f = np.ascontiguousarray((dtm & ~dig)[co].reshape(len(cand), TA).T)
    mm_f = np.ascontiguousarray(
        ((dtm | dig) & ~d_out[cand][:, None, :])[co].reshape(len(cand), TA).T
    )
    cand_b = np.searchsorted(dt["cat"][cand_a], np.arange(n_cat + 1))
    # jmin[k][a, r]: smallest integer tp with tp / npig >= recThrs[r] (the same float
    # division as pycocotools' rc), so "first index with rc >= thr" = "index of the
    # jmin-th true positive"
    jmin = [
        np.stack(
            [
                np.searchsorted(
                    np.arange(max(npig[k, a], 1) + 1) / max(npig[k, a], 1), RECALL_THRESHOLDS
                )
                for a in range(A)
            ]
        )[col_a]
        if npig[k].any()
        else None
        for k in range(n_cat)
    ]
    npig_col = np.maximum(npig, 1)[:, col_a]
    per_m = []  # what every category needs from each maxDets slice
    for max_det in MAX_DETS:
        in_m = dt["rank"] < max_det
        in_m_a = in_m[a_order]
        sub_order = a_order[in_m_a]  # detection indices of this maxDets slice, in order
        posm = np.cumsum(in_m_a) - 1  # A-order position -> position in the slice
        cat_start = np.searchsorted(dt["cat"][sub_order], np.arange(n_cat + 1))
        # in-range detections up to each position of the slice, per area range
        inr_all = np.zeros((A, len(sub_order) + 1), dtype=np.int32)
        np.cumsum(~d_out[sub_order].T, axis=1, out=inr_all[:, 1:])
        cand_p = posm[pos_a[cand_a]]
        per_m.append((max_det, in_m[cand_a], cand_p, cat_start, inr_all, dt["score"][sub_order]))
    rows = np.arange(TA)[:, None]
    # one block per category in pycocotools' layouts, copied into them at once
    q_k = np.empty((T, R, A, M))
    sc_k = np.empty((T, R, A, M))
    rc_k = np.empty((T, A, M))
    for k in range(n_cat):
        if jmin[k] is None:
            continue
        jm = jmin[k]  # [TA, R]
        jm1 = np.maximum(jm - 1, 0)
        jm0 = jm == 0
        for m, (max_det, cand_in, cand_p, cat_start, inr_all, score_m) in enumerate(per_m):
            cs, n = int(cat_start[k]), int(cat_start[k + 1] - cat_start[k])
            if n == 0:
                q_k[..., m] = 0
                sc_k[..., m] = 0
                rc_k[:, :, m] = 0
                continue
            cols = np.arange(cand_b[k], cand_b[k + 1])
            if max_det < MAX_DETS[-1]:
                cols = cols[cand_in[cols]]
                tp_c, mm_c = tp_f[:, cols], mm_f[:, cols]
            else:  # a slice, not a copy
                tp_c, mm_c = tp_f[:, cand_b[k] : cand_b[k + 1]], mm_f[:, cand_b[k] : cand_b[k + 1]]
            c, i = np.nonzero(tp_c)  # sorted by (column, position)
            p = cand_p[cols[i]] - cs
            mc, i = np.nonzero(mm_c)
            mp = cand_p[cols[i]] - cs
            # false positives up to each TP: in-range dets minus matched in-range dets
            mkey = mc * (n + 1) + mp
            col_start = np.searchsorted(mkey, np.arange(TA) * (n + 1), side="left")
            mcount = np.searchsorted(mkey, c * (n + 1) + p, side="right") - col_start[c]
            a_c = col_a[c]
            fp = (inr_all[a_c, cs + p + 1] - inr_all[a_c, cs] - mcount).astype(np.float64)
            ntp = np.bincount(c, minlength=TA)
            j0 = np.arange(len(c)) - (np.cumsum(ntp) - ntp)[c]
            j = (j0 + 1).astype(np.float64)
            pr = j / (fp + j + eps)
            width = max(int(ntp.max()), 1)
            env = np.zeros((TA, width))
            env[c, j0] = pr
            # the envelope, right to left: env_r[:, width - 1 - j] is the max of pr[:, j:]
            env_r = np.maximum.accumulate(env[:, ::-1], axis=1).ravel()
            tpos = np.zeros(TA * width, dtype=np.int64)
            tpos[c * width + j0] = p
            ok = jm <= ntp[:, None]
            at = np.minimum(jm1, width - 1)  # [T * A, R]
            q = np.where(ok, env_r[rows * width + (width - 1) - at], 0.0)  # [T * A, R]
            q_k[..., m] = q.reshape(T, A, R).transpose(0, 2, 1)
            spos = np.where(jm0, 0, tpos[rows * width + at])
            sc = np.where(ok, score_m[cs + spos], 0.0)
            sc_k[..., m] = sc.reshape(T, A, R).transpose(0, 2, 1)
            rc_k[:, :, m] = (ntp / npig_col[k]).reshape(T, A)
        precision[:, :, k] = q_k
        scores[:, :, k] = sc_k
        recall[:, k] = rc_k
    no_gt = npig == 0  # [K, A]: slices without ground truth stay -1
    ks, as_ = np.nonzero(no_gt)
    precision[:, :, ks, as_, :] = -1
    scores[:, :, ks, as_, :] = -1
    recall[:, ks, as_, :] = -1
    return precision, recall, scores


def _summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """pycocotools' ``summarize`` (the same slicing, so the same float sums)."""
    iou_thrs = IOU_THRESHOLDS
    max_dets = list(MAX_DETS)

    def one(ap=1, iou_thr=None, area="all", mdet=100):
        aind = [i for i, lbl in enumerate(AREA_LABELS) if lbl == area]
        mind = [i for i, m in enumerate(max_dets) if m == mdet]
        if ap == 1:
            s = precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == iou_thrs)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == iou_thrs)[0]]
            s = s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    return np.array(
        [
            one(1),
            one(1, iou_thr=0.5, mdet=max_dets[2]),
            one(1, iou_thr=0.75, mdet=max_dets[2]),
            one(1, area="small", mdet=max_dets[2]),
            one(1, area="medium", mdet=max_dets[2]),
            one(1, area="large", mdet=max_dets[2]),
            one(0, mdet=max_dets[0]),
            one(0, mdet=max_dets[1]),
            one(0, mdet=max_dets[2]),
            one(0, area="small", mdet=max_dets[2]),
            one(0, area="medium", mdet=max_dets[2]),
            one(0, area="large", mdet=max_dets[2]),
        ]
    )


def coco_evaluate(coco_gt, detections, iou_type: str = "bbox") -> dict[str, Any]:
    """COCO detection metrics, identical to pycocotools' ``COCOeval`` (see the module notes).

    Args:
        coco_gt: COCO ground truth: a dict with ``images``, ``annotations`` (``id``,
            ``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``, ``area``, ``iscrowd``)
            and ``categories``, or a path to such a JSON file.
        detections: list of COCO result dicts ``{"image_id", "category_id", "bbox": [x, y, w,
            h], "score"}`` (for ``iou_type="segm"``: ``"segmentation"``, a compressed RLE
            ``{"size": [h, w], "counts": str}`` or polygons / an uncompressed RLE, and ``bbox``
            optional), or a path to such a JSON file. May be empty.
        iou_type: ``"bbox"`` or ``"segm"``.

    Returns:
        A dict with the 12 standard numbers as floats under ``AP, AP50, AP75, APs, APm, APl,
        AR1, AR10, AR100, ARs, ARm, ARl`` (-1 where undefined), ``stats`` (the same 12 as an
        array, pycocotools' ``stats``), ``per_class_AP`` and ``per_class_AP50`` (``{category
        id: AP}``, -1 for a class without ground truth), ``category_names`` (``{id: name}``),
        ``precision`` ``[T, R, K, A, M]``, ``recall`` ``[T, K, A, M]`` and ``scores`` (as
        pycocotools' ``eval``), ``iou_thresholds``, ``recall_thresholds``, ``cat_ids``,
        ``area_ranges``, ``area_labels``, ``max_dets``.

    Raises:
        TypeError: wrong types (not a dict/list, non-integer ids, non-numeric fields).
        ValueError: unknown ``iou_type``, missing keys, unknown image or category ids,
            NaN/inf, negative widths or heights, duplicate annotation ids; for ``"segm"``:
            images without ``height``/``width``, malformed polygons or RLEs (bad characters,
            run lengths that do not add up to ``height * width``, a ``size`` that is not the
            image's), named by annotation / detection index.

    Example:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "cat"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}
        >>> dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 9], "score": 0.9}]
        >>> r = coco_evaluate(gt, dets)
        >>> round(r["AP"], 4), round(r["AP50"], 4), r["APl"]  # IoU 0.9 passes 9 of 10 thresholds
        (0.9, 1.0, -1.0)
    """
    if iou_type not in _IOU_TYPES:
        raise ValueError(f"iou_type must be one of {_IOU_TYPES}, got {iou_type!r}")
    coco_gt = _load(coco_gt, "coco_gt", dict)
    detections = _load(detections, "detections", list)
    gt = _parse_gt(coco_gt, iou_type)
    dt = _parse_dt(detections, gt, iou_type)
    n_img, n_cat = len(gt["img_table"]), len(gt["cat_table"])
    if np.any(gt["id"] == 0):
        warnings.warn(
            "coco_gt has an annotation with id 0; like pycocotools, a detection matched to it "
            "counts as unmatched (a false positive). Number annotation ids from 1.",
            stacklevel=2,
        )

    # ground truths: sorted by (category, image, annotation order)
    g_order = np.lexsort((gt["img"], gt["cat"]))
    gkey = gt["cat"][g_order] * max(n_img, 1) + gt["img"][g_order]
    g_area = gt["area"][g_order]
    g_crowd = gt["crowd"][g_order]
    lo = np.array([r[0] for r in AREA_RANGES], dtype=np.float64)
    hi = np.array([r[1] for r in AREA_RANGES], dtype=np.float64)
    g_nonign = ~g_crowd[:, None] & ~((g_area[:, None] < lo) | (g_area[:, None] > hi))
    gs = {
        "box": gt["box"][g_order],
        "crowd": g_crowd,
        "cat": gt["cat"][g_order],
        "img": gt["img"][g_order],
        "nonign": g_nonign,
        "order": g_order,
        "rle": gt.get("rle"),
        "cols": gt["cols"][g_order] if "cols" in gt else None,
        "mask_area": gt["mask_area"][g_order] if "mask_area" in gt else None,
    }

    # detections: sorted by (category, image, -score) stably, cut to maxDets[-1] per group
    # (one stable argsort of an exact integer key: equal scores get equal ranks)
    _, srank = np.unique(-dt["score"], return_inverse=True)
    n_s = int(srank.max()) + 1 if len(srank) else 1
    d_order = np.argsort(
        (dt["cat"] * max(n_img, 1) + dt["img"]) * n_s + srank.reshape(-1), kind="stable"
    )
    dkey = dt["cat"][d_order] * max(n_img, 1) + dt["img"][d_order]
    rank = _group_rank(dkey)
    keep = rank < MAX_DETS[-1]
    d_order, dkey, rank = d_order[keep], dkey[keep], rank[keep]
    ds = {
        "img": dt["img"][d_order],
        "cat": dt["cat"][d_order],
        "score": dt["score"][d_order],
        "area": dt["area"][d_order],
        "rank": rank,
        "srank": srank.reshape(-1)[d_order],
        "n_s": n_s,
        "key": dkey,
        "order": d_order,
        "rle": dt.get("rle"),
        # masks: the per-detection arrays as parsed (the IoU step works in that order)
        "parsed": (dt["img"], dt["cols"], dt["mask_area"]) if "cols" in dt else None,
    }
    if iou_type == "bbox":
        ds["box"] = dt["box"][d_order]
    del dt, srank, keep  # what ds holds (sorted copies; masks: parsed arrays) is all we need

    pd, pg, piou = _candidate_pairs(dkey, gkey, ds, gs, iou_type)
    cand, dtm, dig = _match(
        len(d_order), pd, pg, piou, dkey, g_nonign, g_crowd, gt["id"][g_order] != 0
    )
    d_out = (ds["area"][:, None] < lo) | (ds["area"][:, None] > hi)  # [N, A]
    precision, recall, scores = _accumulate(gs, ds, cand, dtm, dig, d_out, n_cat)
    stats = _summarize(precision, recall)

    result: dict[str, Any] = {key: float(v) for key, v in zip(STAT_KEYS, stats)}
    cat_ids = [int(c) for c in gt["cat_table"]]
    per_ap, per_ap50 = {}, {}
    for k, cid in enumerate(cat_ids):
        s = precision[:, :, k, 0, -1]
        per_ap[cid] = float(np.mean(s[s > -1])) if (s > -1).any() else -1.0
        s50 = precision[0, :, k, 0, -1]
        per_ap50[cid] = float(np.mean(s50[s50 > -1])) if (s50 > -1).any() else -1.0
    result.update(
        stats=stats,
        per_class_AP=per_ap,
        per_class_AP50=per_ap50,
        category_names={cid: gt["names"][cid] for cid in cat_ids},
        precision=precision,
        recall=recall,
        scores=scores,
        iou_thresholds=IOU_THRESHOLDS.copy(),
        recall_thresholds=RECALL_THRESHOLDS.copy(),
        cat_ids=cat_ids,
        area_ranges=[list(r) for r in AREA_RANGES],
        area_labels=list(AREA_LABELS),
        max_dets=list(MAX_DETS),
    )
    return result
