"""validate(): every problem reported with file/position/reason; strict raises; repair fixes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dlcv_utils.datasets import (
    DatasetValidationError,
    FormatLossWarning,
    ImageAnn,
    ObjectAnn,
    read_coco,
    read_dataset,
    read_voc,
    validate,
    write_dataset,
)

CLASSES = ["a", "b"]


def _reasons(report):
    return [(p.where, p.reason) for p in report.problems]


# ------------------------------------------------------------------------------------ YOLO


YOLO_BAD = "\n".join(
    [
        "0 0.5 0.5 0.2 0.2",  # 1 ok
        "0 0.5 0.5 0.2",  # 2 four fields
        "1 0.5 0.5 0.2 0.2 0.3",  # 3 six fields
        "1 1.2 0.5 0.2 0.2",  # 4 cx outside [0, 1], box entirely outside
        "1 0.95 0.5 0.2 0.2",  # 5 box crosses the right edge
        "0 0.5 0.5 0 0.2",  # 6 zero width
        "5 0.5 0.5 0.2 0.2",  # 7 unknown class
        "x 0.5 0.5 0.2 0.2",  # 8 not numbers
        "1 0.5 0.5 1.4 0.2",  # 9 w > 1: clipped to the whole width
    ]
)


def test_yolo_file_reports_all_problems(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(YOLO_BAD + "\n")
    rep = validate(p, "yolo", num_classes=2)
    assert not rep.ok
    wheres = [q.where for q in rep.problems]
    assert wheres == [f"line {i}" for i in (2, 3, 4, 5, 6, 7, 8, 9)]
    reasons = dict(_reasons(rep))
    assert reasons["line 2"].startswith("expected 5 fields 'class cx cy w h', got 4")
    assert reasons["line 3"].startswith("expected 5 fields 'class cx cy w h', got 6")
    assert reasons["line 4"] == "values outside [0, 1]: cx=1.2 (box entirely outside)"
    assert "is outside the image" in reasons["line 5"]
    assert "zero or negative size" in reasons["line 6"]
    assert reasons["line 7"] == "class id 5 is not in 0..1"
    assert reasons["line 8"].startswith("not numbers")
    assert reasons["line 9"] == "values outside [0, 1]: w=1.4"
    assert all(q.file == str(p) for q in rep.problems)
    assert p.read_text() == YOLO_BAD + "\n"  # report-only mode changes nothing


def test_yolo_strict_raises_with_every_problem(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(YOLO_BAD)
    with pytest.raises(DatasetValidationError, match=r"8 problem\(s\) found") as info:
        validate(p, "yolo", num_classes=2, strict=True)
    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) == 8
    assert "a.txt: line 3: expected 5 fields" in str(info.value)


def test_yolo_repair_clips_and_drops(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(YOLO_BAD)
    rep = validate(p, "yolo", num_classes=2, repair=True)
    assert rep.ok and len(rep.repaired) == 8
    fixes = {q.where: q.fix for q in rep.repaired}
    assert fixes["line 5"].startswith("clipped") and fixes["line 9"] == "clipped to the image"
    assert fixes["line 2"] == "line dropped"
    lines = p.read_text().splitlines()
    # line 5: x from 0.85 to 1.05 -> clipped to [0.85, 1.0]; line 9: x in [0, 1]
    assert lines == [
        "0 0.500000 0.500000 0.200000 0.200000",
        f"1 {(0.85 + 1.0) / 2:.6f} 0.500000 {1.0 - 0.85:.6f} 0.200000",
        "1 0.500000 0.500000 1.000000 0.200000",
    ]
    assert validate(p, "yolo", num_classes=2, strict=True).ok  # repaired file is clean
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]  # no temp file left


# ------------------------------------------------------------------------------------- VOC


def _voc_xml(objects: str, size="<size><width>100</width><height>50</height></size>"):
    return f"<annotation><filename>a.png</filename>{size}{objects}</annotation>"


def _obj(name, xmin, ymin, xmax, ymax):
    return (
        f"<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def test_voc_file_all_problems_and_repair(tmp_path):
    p = tmp_path / "a.xml"
    p.write_text(
        _voc_xml(
            _obj("a", 1, 1, 10, 10)  # ok
            + _obj("a", 20, 5, 120, 40)  # xmax > width -> clip
            + _obj("b", 30, 30, 30, 30)  # single pixel in VOC = 1x1 box: fine
            + _obj("b", 40, 20, 35, 30)  # xmax < xmin
            + "<object><name>a</name></object>"  # no bndbox
            + "<object><bndbox><xmin>1</xmin></bndbox></object>"  # no name
        )
    )
    rep = validate(p, "voc")
    assert _reasons(rep) == [
        ("object 1", "box (19, 4, 120, 40) is outside the image (100 x 50)"),
        ("object 3", "box (39, 19, 35, 30) has zero or negative size"),
        ("object 4", "missing or non-numeric <bndbox> xmin/ymin/xmax/ymax"),
        ("object 5", "missing <name>"),
    ]
    rep = validate(p, "voc", repair=True)
    assert rep.ok and len(rep.repaired) == 4
    rec = read_voc(p)
    assert [o.bbox for o in rec.objects] == [(0, 0, 10, 10), (19, 4, 100, 40), (29, 29, 30, 30)]


def test_voc_malformed_and_entities_reported_with_position(tmp_path):
    (tmp_path / "bad.xml").write_text("<annotation>\n<size>\n</annotation>\n")
    rep = validate(tmp_path / "bad.xml", "voc", repair=True)
    assert len(rep.problems) == 1 and rep.problems[0].reason.startswith("malformed XML at line 3")
    (tmp_path / "lol.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><annotation>&x;</annotation>'
    )
    rep = validate(tmp_path / "lol.xml", "voc")
    assert "refused: the XML declares entities" in rep.problems[0].reason


def _dataset(tmp_path, fmt):
    recs = [
        ImageAnn("i0.png", 40, 30, [ObjectAnn("a", (1, 1, 10, 10))]),
        ImageAnn("i1.png", 40, 30, [ObjectAnn("b", (5, 5, 20, 25)), ObjectAnn("a", (0, 0, 4, 4))]),
    ]
    imgs = [np.zeros((30, 40, 3), np.uint8)] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        write_dataset(recs, tmp_path, fmt, classes=CLASSES, split="train", images=imgs)
    return tmp_path


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_clean_dataset_validates(tmp_path, fmt):
    rep = validate(_dataset(tmp_path, fmt), fmt, strict=True)
    assert rep.ok and rep.files_checked >= 1
    assert "0 problem(s)" in str(rep)


def test_voc_dataset_missing_files(tmp_path):
    root = _dataset(tmp_path, "voc")
    (root / "JPEGImages/i1.png").unlink()
    with open(root / "ImageSets/Main/train.txt", "a") as f:
        f.write("ghost\n")
    xml = (root / "Annotations/i0.xml").read_text().replace("<name>a</name>", "<name>zebra</name>")
    (root / "Annotations/i0.xml").write_text(xml)
    rep = validate(root, "voc")
    reasons = [str(p) for p in rep.problems]
    assert len(reasons) == 3
    assert any("i0.xml: object 0: unknown class 'zebra'" in r for r in reasons)
    assert any("i1.png does not exist" in r for r in reasons)
    assert any(
        "train.txt: line 3: annotation file" in r and "ghost.xml does not exist" in r
        for r in reasons
    )
    rep = validate(root, "voc", repair=True)
    assert len(rep.problems) == 1 and "i1.png does not exist" in rep.problems[0].reason
    assert (root / "ImageSets/Main/train.txt").read_text() == "i0\ni1\n"


# ------------------------------------------------------------------------------------ COCO


def _bad_coco(root):
    path = root / "annotations/instances_train.json"
    d = json.loads(path.read_text())
    d["images"].append({"id": 1, "file_name": "dup.png", "width": 40, "height": 30})  # dup id
    d["annotations"] += [
        {"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]},  # duplicate ann id
        {"id": 50, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]},  # missing image
        {"id": 51, "image_id": 1, "category_id": 9, "bbox": [1, 1, 2, 2]},  # unknown category
        {"id": 52, "image_id": 1, "category_id": 1, "bbox": [30, 20, 20, 5]},  # past the edge
        {"id": 53, "image_id": 1, "category_id": 1, "bbox": [3, 3, 0, 5]},  # zero width
        {"id": 54, "image_id": 1, "category_id": 1},  # no bbox
    ]
    path.write_text(json.dumps(d, indent=1))
    return path


def test_coco_dataset_reports_all_problems(tmp_path):
    root = _dataset(tmp_path, "coco")
    path = _bad_coco(root)
    rep = validate(root, "coco")
    assert _reasons(rep) == [
        ("images[2] (id 1)", "duplicate image id"),
        ("annotations[3] (id 1)", "duplicate annotation id"),
        ("annotations[4] (id 50)", "image_id 99 is not in 'images'"),
        ("annotations[5] (id 51)", "unknown category_id 9"),
        ("annotations[6] (id 52)", "box (30, 20, 50, 25) is outside the image (40.0 x 30.0)"),
        ("annotations[7] (id 53)", "box (3, 3, 3, 8) has zero or negative size"),
        ("annotations[8]", "missing key(s) ['bbox']"),
    ]
    assert all(p.file == str(path) for p in rep.problems)
    d = json.loads(path.read_text())
    d["images"].pop()  # without the duplicates, the reader stops at the missing image id
    del d["annotations"][3]
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"points at image_id 99, which is not in 'images'"):
        read_coco(path)


def test_coco_repair(tmp_path):
    root = _dataset(tmp_path, "coco")
    _bad_coco(root)
    rep = validate(root, "coco", repair=True)
    assert rep.ok and len(rep.repaired) == 7
    recs, _ = read_dataset(root, "coco", "train")  # readable again
    boxes = [o.bbox for r in recs for o in r.objects]
    assert (30.0, 20.0, 40.0, 25.0) in boxes  # clipped
    assert len(boxes) == 3 + 2  # 3 original + renumbered duplicate + clipped
    assert validate(root, "coco", strict=True).ok


def test_coco_truncated_json_and_missing_keys(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"images": [{"id": 1,\n "file_name": "a.png"')
    rep = validate(p, "coco", repair=True)
    assert len(rep.problems) == 1
    assert rep.problems[0].reason.startswith("malformed or truncated JSON at line 2, column")
    p.write_text('{"images": []}')
    assert _reasons(validate(p, "coco")) == [
        ("", "missing key 'annotations' (or not a list)"),
        ("", "missing key 'categories' (or not a list)"),
    ]


def test_coco_missing_image_file(tmp_path):
    root = _dataset(tmp_path, "coco")
    (root / "images/train/i0.png").unlink()
    rep = validate(root, "coco")
    assert len(rep.problems) == 1 and "i0.png does not exist" in rep.problems[0].reason
    assert validate(root, "coco", check_images=False).ok


def test_yolo_dataset_level(tmp_path):
    root = _dataset(tmp_path, "yolo")
    (root / "labels/train/orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n")
    rep = validate(root, "yolo")
    assert [(p.file, p.where, p.reason) for p in rep.problems] == [
        (
            str(root / "labels/train/orphan.txt"),
            "",
            f"no image orphan.* in {root / 'images/train'}",
        ),
        (str(root / "labels/train/orphan.txt"), "line 2", "class id 2 is not in 0..1"),
    ]
    (root / "data.yaml").unlink()
    assert any("data.yaml" in p.file for p in validate(root, "yolo").problems)


def test_validate_guards(tmp_path):
    with pytest.raises(ValueError, match=r"fmt must be one of .* got 'csv'"):
        validate(tmp_path, "csv")
    with pytest.raises(FileNotFoundError, match="path: no such file or folder"):
        validate(tmp_path / "nope", "coco")
    rep = validate(tmp_path, "coco")
    assert rep.problems[0].reason == "no annotations/instances_<split>.json found"


def test_yolo_box_on_the_image_edge_is_not_a_problem(tmp_path):
    """6-decimal rounding of cx and w must not turn an edge-touching box into an 'outside' one."""
    from dlcv_utils.datasets import ImageAnn, ObjectAnn, read_yolo, validate, write_yolo

    # x2 = 511.9999 + tiny: cx = 0.75 -> rounds so that cx + w/2 > 1 by < 1e-6
    record = ImageAnn("edge.png", 512, 512, [ObjectAnn("a", (255.999744, 0.0, 512.0, 170.666667))])
    label = tmp_path / "edge.txt"
    write_yolo(record, label, ["a"])
    (obj,) = read_yolo(label, (512, 512), ["a"])
    assert obj.bbox[2] <= 512.0
    report = validate(label, "yolo")
    assert report.problems == []
