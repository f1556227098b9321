"""VOC / COCO / YOLO readers and writers, dataset layouts, conversion, and their bad inputs."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils.datasets import (
    FormatLossWarning,
    ImageAnn,
    ObjectAnn,
    convert,
    find_splits,
    read_coco,
    read_data_yaml,
    read_dataset,
    read_voc,
    read_yolo,
    segmentation_area,
    segmentation_to_mask,
    write_coco,
    write_data_yaml,
    write_dataset,
    write_voc,
    write_yolo,
)
from dlcv_utils.datasets.layout import annotation_path, image_path

CLASSES = ["circle", "square", "triangle"]


def _square_poly(x1, y1, x2, y2):
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def _records():
    """Two small images; one object with a polygon mask, one with RLE, flags set."""
    from pycocotools import mask as mask_utils

    m = np.zeros((20, 30), np.uint8, order="F")
    m[2:6, 3:9] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode("ascii")
    return [
        ImageAnn(
            "img0.png",
            30,
            20,
            [
                ObjectAnn(
                    "square", (10.0, 4.0, 20.0, 12.0), segmentation=_square_poly(10, 4, 20, 12)
                ),
                ObjectAnn("circle", (3.0, 2.0, 9.0, 6.0), segmentation=rle, iscrowd=True),
            ],
            image_id=5,
        ),
        ImageAnn(
            "img1.png",
            30,
            20,
            [ObjectAnn("triangle", (0.0, 0.0, 30.0, 20.0), difficult=True, truncated=True)],
            image_id=9,
        ),
    ]


def _images(records, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (r.height, r.width, 3), dtype=np.uint8) for r in records]


# ------------------------------------------------------------------------------------ VOC


def test_voc_round_trip_and_pixel_convention(tmp_path):
    rec = _records()[1]
    rec.objects.append(ObjectAnn("circle", (2.5, 3.0, 7.25, 8.0)))
    write_voc(rec, tmp_path / "a.xml")
    text = (tmp_path / "a.xml").read_text()
    # 1-based inclusive pixel indices on disk: x1 = 0 -> xmin = 1; x2 = 30 -> xmax = 30
    assert "<xmin>1</xmin>" in text and "<xmax>30</xmax>" in text
    assert "<difficult>1</difficult>" in text and "<truncated>1</truncated>" in text
    back = read_voc(tmp_path / "a.xml")
    assert (back.file_name, back.width, back.height) == ("img1.png", 30, 20)
    assert back.objects[0].bbox == (0.0, 0.0, 30.0, 20.0)
    assert back.objects[0].difficult and back.objects[0].truncated
    assert back.objects[1].bbox == (2.5, 3.0, 7.25, 8.0)
    assert not back.objects[1].difficult


def test_voc_reads_real_voc_style_file(tmp_path):
    xml = """<annotation><folder>VOC2007</folder><filename>000001.jpg</filename>
    <size><width>353</width><height>500</height><depth>3</depth></size>
    <object><name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
    <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>8</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox></object>
    </annotation>"""
    (tmp_path / "000001.xml").write_text(xml)
    rec = read_voc(tmp_path / "000001.xml")
    assert rec.objects[0].bbox == (48 - 1, 240 - 1, 195, 371)
    assert rec.objects[0].truncated and not rec.objects[0].difficult
    assert rec.objects[1].difficult and not rec.objects[1].truncated
    assert rec.image_id is None


def test_voc_write_warns_about_masks_and_iscrowd(tmp_path):
    with pytest.warns(FormatLossWarning, match="VOC cannot hold"):
        write_voc(_records()[0], tmp_path / "a.xml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_voc(_records()[0], tmp_path / "b.xml", warn=False)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<annotation><filename>&lol3;</filename></annotation>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>"""


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (BILLION_LAUGHS, r"refused: the XML declares entities \('lol'\)"),
        (EXTERNAL_ENTITY, r"refused: the XML declares entities \('xxe'\)"),
        ("<annotation>\n  <size>\n</annotation>", r"malformed XML at line 3, column \d+"),
        ("", "malformed XML at line 1"),
        ("<other/>", "root element must be <annotation>, got <other>"),
        (
            "<annotation><size><width>3</width><height>3</height></size></annotation>",
            "missing <filename>",
        ),
        ("<annotation><filename>a</filename></annotation>", "missing <size>"),
        (
            "<annotation><filename>a</filename><size><width>3</width><height>3</height></size>"
            "<object><name>x</name></object></annotation>",
            "object 0: missing <bndbox>",
        ),
        (
            "<annotation><filename>a</filename><size><width>3</width><height>3</height></size>"
            "<object><name>x</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>"
            "</bndbox></object></annotation>",
            r"<xmin> is not a number: 'a'",
        ),
    ],
)
def test_voc_bad_input(tmp_path, text, match):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_voc(p)


def test_voc_missing_file_and_type_guard(tmp_path):
    with pytest.raises(FileNotFoundError, match="xml_path: no such file"):
        read_voc(tmp_path / "nope.xml")
    with pytest.raises(TypeError, match="record must be an ImageAnn, got dict"):
        write_voc({"file_name": "a"}, tmp_path / "a.xml")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ COCO


def test_coco_round_trip_keeps_everything(tmp_path):
    recs = _records()
    write_coco(recs, tmp_path / "c.json", CLASSES)
    data = json.loads((tmp_path / "c.json").read_text())
    assert [c["id"] for c in data["categories"]] == [1, 2, 3]
    ann0 = data["annotations"][0]
    assert ann0["bbox"] == [10.0, 4.0, 20.0 - 10.0, 12.0 - 4.0]
    assert ann0["area"] == 10.0 * 8.0  # polygon area of the square
    assert ann0["category_id"] == 2 and ann0["image_id"] == 5
    assert data["annotations"][1]["area"] == 4 * 6  # RLE mask area
    assert data["annotations"][1]["iscrowd"] == 1
    back, classes = read_coco(tmp_path / "c.json")
    assert classes == CLASSES
    assert [r.image_id for r in back] == [5, 9]
    for a, b in zip(recs, back):
        assert [o.bbox for o in a.objects] == [o.bbox for o in b.objects]
        assert [o.label for o in a.objects] == [o.label for o in b.objects]
    assert back[0].objects[1].iscrowd and back[0].objects[1].segmentation["size"] == [20, 30]


def test_coco_masks_match_pycocotools(tmp_path):
    recs = _records()
    poly = recs[0].objects[0].segmentation
    m = segmentation_to_mask(poly, 20, 30)
    assert m.shape == (20, 30) and m.dtype == np.uint8
    assert m.sum() == segmentation_area(poly, 20, 30) == 80
    rle_mask = segmentation_to_mask(recs[0].objects[1].segmentation, 20, 30)
    assert rle_mask[2:6, 3:9].all() and rle_mask.sum() == 24
    uncompressed = {"counts": [62, 4, 16, 4, 514], "size": [20, 30]}
    assert segmentation_to_mask(uncompressed, 20, 30).sum() == 8
    with pytest.raises(
        TypeError, match="segmentation: must be a polygon list or an RLE dict, got str"
    ):
        segmentation_to_mask("oops", 20, 30)


def test_coco_write_is_deterministic(tmp_path):
    write_coco(_records(), tmp_path / "a.json", CLASSES)
    write_coco(_records(), tmp_path / "b.json", CLASSES)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def _coco_dict():
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "categories": [{"id": 1, "name": "x"}],
    }


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (
            lambda d: d["annotations"][0].update(image_id=42),
            r"annotations\[0\] \(id 1\) points at image_id 42, which is not in 'images'",
        ),
        (lambda d: d["annotations"][0].update(category_id=7), "unknown category_id 7"),
        (lambda d: d.pop("categories"), "missing key 'categories'"),
        (lambda d: d["annotations"][0].pop("bbox"), r"annotations\[0\] missing key 'bbox'"),
        (lambda d: d["annotations"].append(dict(d["annotations"][0])), "duplicate annotation id 1"),
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id 1"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"bbox must be \[x, y, w, h\]"),
    ],
)
def test_coco_bad_input(tmp_path, mutate, match):
    d = _coco_dict()
    mutate(d)
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=match):
        read_coco(p)


def test_coco_truncated_json_gives_position(tmp_path):
    p = tmp_path / "c.json"
    text = json.dumps(_coco_dict(), indent=1)
    p.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"malformed or truncated JSON at line \d+, column \d+"):
        read_coco(p)


def test_coco_guards(tmp_path):
    recs = _records()
    with pytest.raises(ValueError, match="label 'square' not in classes"):
        write_coco(recs, tmp_path / "c.json", ["circle", "triangle"])
    with pytest.raises(ValueError, match="classes must be unique"):
        write_coco(recs, tmp_path / "c.json", ["a", "a"])
    recs[1].image_id = 5
    with pytest.raises(ValueError, match="duplicate image_id 5"):
        write_coco(recs, tmp_path / "c.json", CLASSES)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


# ------------------------------------------------------------------------------------ YOLO


def test_yolo_values_by_hand(tmp_path):
    rec = ImageAnn("a.png", 200, 100, [ObjectAnn("triangle", (20.0, 10.0, 60.0, 90.0))])
    write_yolo(rec, tmp_path / "a.txt", CLASSES)
    cx, cy, w, h = (20 + 60) / 2 / 200, (10 + 90) / 2 / 100, (60 - 20) / 200, (90 - 10) / 100
    assert (tmp_path / "a.txt").read_text() == f"2 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"
    back = read_yolo(tmp_path / "a.txt", (200, 100), CLASSES)
    assert back[0].label == "triangle"
    np.testing.assert_allclose(back[0].bbox, (20, 10, 60, 90), atol=1e-6)
    assert read_yolo(tmp_path / "a.txt", (200, 100))[0].label == "2"


@settings(max_examples=40, deadline=None)
@given(
    x1=st.floats(0, 500),
    y1=st.floats(0, 300),
    w=st.floats(1, 140),
    h=st.floats(1, 100),
)
def test_yolo_round_trip_property(tmp_path_factory, x1, y1, w, h):
    W, H = 640, 400
    rec = ImageAnn("a.png", W, H, [ObjectAnn("square", (x1, y1, x1 + w, y1 + h))])
    p = tmp_path_factory.mktemp("y") / "a.txt"
    write_yolo(rec, p, CLASSES)
    back = read_yolo(p, (W, H), CLASSES)[0].bbox
    # 6 decimals of a normalised value: error <= 0.5e-6 * size (per term, two terms)
    np.testing.assert_allclose(back, rec.objects[0].bbox, atol=1e-6 * W)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("0 0.5 0.5 0.2", r"line 2: expected 5 fields 'class cx cy w h', got 4"),
        ("0 0.5 0.5 0.2 0.2 0.9", r"line 2: expected 5 fields 'class cx cy w h', got 6"),
        ("0 0.5 0.5 x 0.2", "line 2: not numbers"),
        ("7 0.5 0.5 0.2 0.2", r"line 2: class id 7 outside 0..2"),
    ],
)
def test_yolo_bad_lines(tmp_path, line, match):
    p = tmp_path / "a.txt"
    p.write_text(f"0 0.5 0.5 0.1 0.1\n{line}\n")
    with pytest.raises(ValueError, match=match):
        read_yolo(p, (10, 10), CLASSES)


def test_yolo_guards_and_losses(tmp_path):
    with pytest.raises(ValueError, match=r"image_size must be \(width, height\), got 5"):
        p = tmp_path / "a.txt"
        p.write_text("")
        read_yolo(p, 5)
    with pytest.raises(FileNotFoundError, match="label_path: no such file"):
        read_yolo(tmp_path / "none.txt", (5, 5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_yolo(_records()[0], tmp_path / "b.txt", CLASSES)
    assert [str(w.message) for w in caught] == [
        "img0.png object 0: YOLO cannot hold a mask (dropped)",
        "img0.png object 1: YOLO cannot hold iscrowd=1 (dropped)",
        "img0.png object 1: YOLO cannot hold a mask (dropped)",
    ]
    assert all(w.category is FormatLossWarning for w in caught)
    with pytest.raises(ValueError, match="label 'square' not in classes"):
        write_yolo(_records()[0], tmp_path / "c.txt", ["x"])
    assert not (tmp_path / "c.txt").exists()


def test_data_yaml_list_and_dict_names(tmp_path):
    p = tmp_path / "data.yaml"
    write_data_yaml(p, CLASSES, {"train": "images/train", "val": "images/val"})
    d = read_data_yaml(p)
    assert d["names"] == CLASSES and d["nc"] == 3 and d["val"] == "images/val"
    p.write_text("train: images/train\nnames: [a, b]\n")
    assert read_data_yaml(p)["names"] == ["a", "b"]
    p.write_text("names: {0: a, 2: b}\n")
    with pytest.raises(ValueError, match=r"'names' ids must be 0..K-1, got \[0, 2\]"):
        read_data_yaml(p)
    p.write_text("names: [a, b\n")
    with pytest.raises(ValueError, match=r"malformed YAML at line \d+, column \d+"):
        read_data_yaml(p)
    p.write_text("train: x\n")
    with pytest.raises(ValueError, match="with a 'names' key"):
        read_data_yaml(p)


# ------------------------------------------------------------------------------ layouts


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_write_dataset_layout_round_trip_and_determinism(tmp_path, fmt):
    recs = _records()
    imgs = _images(recs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        write_dataset(recs, tmp_path / "a", fmt, classes=CLASSES, split="val", images=imgs)
        write_dataset(recs, tmp_path / "b", fmt, classes=CLASSES, split="val", images=imgs)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "a").rglob("*"))
    for rec, img in zip(recs, imgs):
        from PIL import Image

        with Image.open(image_path(tmp_path / "a", fmt, "val", rec.file_name)) as im:
            np.testing.assert_array_equal(np.asarray(im), img)
    assert annotation_path(tmp_path / "a", fmt, "val", "img0.png").is_file()
    back, classes = read_dataset(tmp_path / "a", fmt, "val")
    assert classes == CLASSES
    assert [r.file_name for r in back] == ["img0.png", "img1.png"]
    for a, b in zip(recs, back):
        np.testing.assert_allclose(
            [o.bbox for o in b.objects], [o.bbox for o in a.objects], atol=1e-4
        )
    assert find_splits(tmp_path / "a", fmt) == ["val"]


def test_write_dataset_second_split_merges_yaml_and_checks_classes(tmp_path):
    recs = _records()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        write_dataset(recs, tmp_path, "yolo", classes=CLASSES, split="train")
        write_dataset(recs[:1], tmp_path, "yolo", classes=CLASSES, split="val")
        d = read_data_yaml(tmp_path / "data.yaml")
        assert (d["train"], d["val"]) == ("images/train", "images/val")
        with pytest.raises(ValueError, match="differ from the ones already in"):
            write_dataset(recs, tmp_path, "yolo", classes=[*CLASSES, "extra"], split="test")
        write_dataset(recs, tmp_path / "voc", "voc", classes=CLASSES, split="train")
        with pytest.raises(ValueError, match="differ from the ones already in"):
            write_dataset(recs, tmp_path / "voc", "voc", classes=CLASSES[::-1], split="val")


def test_write_dataset_reports_losses(tmp_path):
    with pytest.warns(
        FormatLossWarning, match=r"YOLO cannot hold everything: 5 field\(s\) dropped"
    ):
        losses = write_dataset(_records(), tmp_path, "yolo", classes=CLASSES)
    assert sorted(losses) == sorted(
        [
            "img0.png object 0: YOLO cannot hold a mask (dropped)",
            "img0.png object 1: YOLO cannot hold iscrowd=1 (dropped)",
            "img0.png object 1: YOLO cannot hold a mask (dropped)",
            "img1.png object 0: YOLO cannot hold difficult=1 (dropped)",
            "img1.png object 0: YOLO cannot hold truncated=1 (dropped)",
        ]
    )
    assert write_dataset(_records(), tmp_path / "c", "coco", classes=CLASSES) == [
        "img1.png object 0: COCO cannot hold difficult=1 (dropped)",
        "img1.png object 0: COCO cannot hold truncated=1 (dropped)",
    ]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            {"fmt": "csv"},
            ValueError,
            r"fmt must be one of \('voc', 'coco', 'yolo', 'openimages'\), got 'csv'",
        ),
        ({"classes": []}, ValueError, "classes must be a non-empty list of unique names"),
        ({"split": "../x"}, ValueError, "split must be a plain name"),
        ({"images": []}, ValueError, "got 0 images for 2 records"),
        (
            {"images": [np.zeros((5, 5, 3), np.uint8)] * 2},
            ValueError,
            r"img0.png has shape \(5, 5, 3\)",
        ),
        ({"images": [np.zeros((20, 30, 3), np.float32)] * 2}, TypeError, "uint8"),
        ({"classes": ["circle"]}, ValueError, "label 'square' not in classes"),
    ],
)
def test_write_dataset_guards(tmp_path, kwargs, exc, match):
    args = {"fmt": "coco", "classes": CLASSES, "split": "train", "images": None, **kwargs}
    with pytest.raises(exc, match=match):
        write_dataset(_records(), tmp_path, args.pop("fmt"), **args)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_read_dataset_missing_split(tmp_path):
    for fmt, match in (
        ("voc", "no VOC split 'val'"),
        ("coco", "no COCO split 'val'"),
        ("yolo", "no YOLO data.yaml"),
    ):
        with pytest.raises(FileNotFoundError, match=match):
            read_dataset(tmp_path, fmt, "val")


# ----------------------------------------------------------------------------- convert


@pytest.mark.parametrize("src_fmt", ["voc", "coco", "yolo"])
@pytest.mark.parametrize("dst_fmt", ["voc", "coco", "yolo"])
def test_convert_all_pairs(tmp_path, src_fmt, dst_fmt):
    recs = _records()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        write_dataset(
            recs, tmp_path / "src", src_fmt, classes=CLASSES, split="train", images=_images(recs)
        )
        val = [dataclasses.replace(recs[0], file_name="val0.png", image_id=9)]
        write_dataset(
            val, tmp_path / "src", src_fmt, classes=CLASSES, split="val", images=_images(val)
        )
    rep = convert(tmp_path / "src", tmp_path / "dst", src_fmt, dst_fmt, warn=False)
    assert rep.splits == ["train", "val"] and rep.images == 3 and rep.objects == 5
    for split, n in (("train", 2), ("val", 1)):
        back, classes = read_dataset(tmp_path / "dst", dst_fmt, split)
        assert classes == CLASSES and len(back) == n
        for a, b in zip(recs, back):
            assert [o.label for o in a.objects] == [o.label for o in b.objects]
            np.testing.assert_allclose(
                [o.bbox for o in b.objects], [o.bbox for o in a.objects], atol=1e-4
            )
            assert (tmp_path / "dst" / image_path("", dst_fmt, split, b.file_name)).is_file()
    # what survives: masks/iscrowd only via COCO, difficult only via VOC
    kept_mask = src_fmt == "coco" and dst_fmt == "coco"
    back = read_dataset(tmp_path / "dst", dst_fmt, "train")[0]
    assert (back[0].objects[0].segmentation is not None) == kept_mask
    assert back[1].objects[0].difficult == (src_fmt == "voc" and dst_fmt == "voc")
    if dst_fmt == "yolo" and src_fmt != "yolo":
        assert any("YOLO cannot hold" in loss for loss in rep.losses)
    if dst_fmt == "coco" and src_fmt == "voc":
        assert "img1.png object 0: COCO cannot hold difficult=1 (dropped)" in rep.losses
    if src_fmt == "coco" and dst_fmt == "voc":
        assert "img0.png object 0: VOC cannot hold a mask (dropped)" in rep.losses


def test_convert_warns_and_guards(tmp_path):
    recs = _records()
    write_dataset(recs, tmp_path / "src", "coco", classes=CLASSES, images=_images(recs))
    with pytest.warns(FormatLossWarning, match="YOLO cannot hold everything"):
        convert(tmp_path / "src", tmp_path / "dst", "coco", "yolo")
    with pytest.raises(ValueError, match="dst must differ from src"):
        convert(tmp_path / "src", tmp_path / "src", "coco", "voc")
    with pytest.raises(ValueError, match=r"splits \['val'\] not found"):
        convert(tmp_path / "src", tmp_path / "d2", "coco", "voc", splits=["val"])
    with pytest.raises(ValueError, match="src_format must be one of"):
        convert(tmp_path / "src", tmp_path / "d3", "json", "voc")
    with pytest.raises(FileNotFoundError, match="src: no such folder"):
        convert(tmp_path / "nope", tmp_path / "d4", "coco", "voc")
    (tmp_path / "src/images/train/img1.png").unlink()
    with pytest.raises(FileNotFoundError, match="image missing"):
        convert(tmp_path / "src", tmp_path / "d5", "coco", "voc")


# ------------------------------------------------------------------------ more guards


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "top level must be a JSON object, got list"),
        ({"images": {}, "annotations": [], "categories": []}, "'images' must be a list, got dict"),
        (
            {"images": [], "annotations": [], "categories": [{"id": 1}]},
            r"categories\[0\]: missing key 'name'",
        ),
        (
            {
                "images": [],
                "annotations": [],
                "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}],
            },
            "duplicate category id 1",
        ),
        (
            {
                "images": [{"id": 1, "file_name": "a.png", "width": 3}],
                "annotations": [],
                "categories": [],
            },
            r"images\[0\] missing key 'height'",
        ),
    ],
)
def test_read_coco_structure_guards(tmp_path, data, match):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match):
        read_coco(p)


def test_misc_guards(tmp_path):
    from dlcv_utils.datasets._io import encode_image

    with pytest.raises(FileNotFoundError, match="json_path: no such file"):
        read_coco(tmp_path / "none.json")
    with pytest.raises(FileNotFoundError, match="yaml_path: no such file"):
        read_data_yaml(tmp_path / "none.yaml")
    (tmp_path / "d.yaml").write_text("names: 3\n")
    with pytest.raises(ValueError, match="'names' must be a list or a dict, got 3"):
        read_data_yaml(tmp_path / "d.yaml")
    with pytest.raises(TypeError, match="record must be an ImageAnn, got list"):
        write_yolo([], tmp_path / "a.txt", CLASSES)
    bad = [ImageAnn("a.png", 5, 5, [ObjectAnn("circle", (0, 0, float("nan"), 2))])]
    with pytest.raises(ValueError, match="'a.png' object 0 bbox: must be a finite number, got nan"):
        write_coco(bad, tmp_path / "c.json", CLASSES)
    with pytest.raises(
        ValueError, match=r"image must have shape \(H, W, 3\) or \(H, W\), got \(2, 2, 4\)"
    ):
        encode_image(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match="suffix must be .png, .jpg or .jpeg, got '.gif'"):
        encode_image(np.zeros((2, 2, 3), np.uint8), ".gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml"]


def test_written_files_have_normal_permissions(tmp_path):
    import os
    import stat

    write_coco(_records(), tmp_path / "c.json", CLASSES)
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "c.json").stat().st_mode) == 0o666 & ~umask


def test_write_dataset_checks_every_image_before_writing(tmp_path):
    recs = _records()
    imgs = [_images(recs)[0], np.zeros((20, 30, 3), np.float64)]  # second one is bad
    with pytest.raises(TypeError, match="image must be a uint8 array, got dtype float64"):
        write_dataset(recs, tmp_path, "yolo", classes=CLASSES, images=imgs)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("fmt", "corrupt", "match"),
    [
        (
            "voc",
            lambda r: (r / "Annotations/img1.xml").write_text(BILLION_LAUGHS),
            "declares entities",
        ),
        (
            "voc",
            lambda r: (r / "Annotations/img1.xml").write_text(EXTERNAL_ENTITY),
            "declares entities",
        ),
        (
            "coco",
            lambda r: (r / "annotations/instances_train.json").write_text(
                (r / "annotations/instances_train.json").read_text()[:-40]
            ),
            "malformed or truncated JSON",
        ),
        (
            "coco",
            lambda r: (r / "annotations/instances_train.json").write_text(
                (r / "annotations/instances_train.json")
                .read_text()
                .replace('"image_id":9', '"image_id":77')
            ),
            "points at image_id 77",
        ),
        ("yolo", lambda r: (r / "labels/train/img1.txt").write_text("0 0.5 0.5 0.1\n"), "got 4"),
        (
            "yolo",
            lambda r: (r / "labels/train/img1.txt").write_text("0 0.5 0.5 0.1 0.1 1\n"),
            "got 6",
        ),
    ],
)
def test_convert_bad_source_writes_nothing(tmp_path, fmt, corrupt, match):
    recs = _records()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        write_dataset(recs, tmp_path / "src", fmt, classes=CLASSES, images=_images(recs))
    corrupt(tmp_path / "src")
    with pytest.raises(ValueError, match=match):
        convert(tmp_path / "src", tmp_path / "dst", fmt, "coco" if fmt != "coco" else "voc")
    assert not (tmp_path / "dst").exists()


def test_mask_to_rle_round_trip_and_bbox():
    from dlcv_utils.datasets import mask_to_rle, segmentation_bbox

    rng = np.random.default_rng(0)
    m = (rng.random((17, 23)) > 0.7).astype(np.uint8)
    rle = mask_to_rle(m)
    assert isinstance(rle["counts"], str) and rle["size"] == [17, 23]
    np.testing.assert_array_equal(segmentation_to_mask(rle, 17, 23), m)
    assert segmentation_area(rle, 17, 23) == m.sum()
    ys, xs = np.nonzero(m)
    assert segmentation_bbox(rle, 17, 23) == (xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0)
    with pytest.raises(
        ValueError, match=r"mask must be a 2-D \(H, W\) array, got shape \(2, 2, 2\)"
    ):
        mask_to_rle(np.zeros((2, 2, 2)))
