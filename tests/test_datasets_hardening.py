"""Issue 8: hostile dataset files never escape their root, corrupt files or half-write output.

Every fixture is written here, into ``tmp_path``; a ``home`` folder beside the datasets stands
for the user's own files, which must come through every failure byte-identical.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcv_utils.datasets import (
    ImageAnn,
    ObjectAnn,
    UnsafePathError,
    convert,
    read_coco,
    read_dataset,
    read_voc,
    read_yolo,
    safe_extract,
    validate,
    write_coco,
    write_dataset,
    write_voc,
    write_yolo,
)
from dlcv_utils.datasets._io import encode_image
from dlcv_utils.datasets.cli import main as data_cli
from dlcv_utils.datasets.masks import check_segmentation, segmentation_area

CLASSES = ["cat", "dog"]
PNG = encode_image(np.full((6, 8, 3), 7, np.uint8))


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (``None`` for folders)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def home(tmp_path):
    """The user's files: a photo and a document that no dataset call may touch."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "photo.png").write_bytes(b"my precious photo")
    (h / "notes.txt").write_text("do not overwrite\n")
    return h


def _rec(name="a.png", label="cat"):
    return ImageAnn(name, 8, 6, [ObjectAnn(label, (1.0, 1.0, 5.0, 4.0))])


def _img():
    return np.zeros((6, 8, 3), np.uint8)


def _coco_src(root: Path, file_names, split="train", extra_ann=None):
    """A COCO dataset whose JSON is written by hand (so it can be hostile)."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, fn in enumerate(file_names, start=1):
        images.append({"id": i, "file_name": fn, "width": 8, "height": 6})
        anns.append({"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 2, 2]})
        if "/" not in fn and not fn.startswith("."):
            (root / "images" / split / fn).write_bytes(PNG)
    if extra_ann:
        anns.append(extra_ann)
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return root


# ============================================================================ critical: paths


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
@pytest.mark.parametrize("bad", ["ABS", "../../home/photo.png", "..\\..\\home\\photo.png"])
def test_write_dataset_refuses_file_names_leaving_the_root(tmp_path, home, fmt, bad):
    name = str(home / "photo.png") if bad == "ABS" else bad
    before = _snapshot(home)
    with pytest.raises(UnsafePathError, match="refused") as info:
        write_dataset([_rec(name)], tmp_path / "out", fmt, classes=CLASSES, images=[_img()])
    assert repr(name) in str(info.value)  # the message names the entry
    assert _snapshot(home) == before
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no temp folder left


def test_convert_refuses_coco_file_name_leaving_both_roots(tmp_path, home):
    src = _coco_src(tmp_path / "src", ["ok.png", "../../../home/photo.png"])
    before = _snapshot(home)
    with pytest.raises(UnsafePathError, match=r"file_name '\.\./\.\./\.\./home/photo\.png'"):
        convert(src, tmp_path / "dst", "coco", "yolo")
    assert _snapshot(home) == before
    assert not (tmp_path / "dst").exists()
    with pytest.raises(UnsafePathError, match="instances_train.json"):
        read_dataset(src, "coco", "train")


def test_voc_filename_and_imagesets_line_leaving_the_root(tmp_path, home):
    root = tmp_path / "voc"
    write_dataset([_rec()], root, "voc", classes=CLASSES, images=[_img()])
    # <filename> pointing at the user's photo
    xml = root / "Annotations" / "a.xml"
    xml.write_text(xml.read_text().replace("<filename>a.png<", "<filename>../../home/photo.png<"))
    with pytest.raises(UnsafePathError, match=r"a\.xml: <filename> '\.\./\.\./home/photo\.png'"):
        read_dataset(root, "voc", "train")
    rep = validate(root, "voc")
    assert any("contains '..'" in p.reason and p.where == "<filename>" for p in rep.problems)
    # an ImageSets line reading an XML outside the root
    (tmp_path / "outside_ann.xml").write_text(xml.read_text())
    (root / "ImageSets/Main/train.txt").write_text("../../outside_ann\n")
    with pytest.raises(UnsafePathError, match=r"train\.txt: line 1 '\.\./\.\./outside_ann\.xml'"):
        read_dataset(root, "voc", "train")
    rep = validate(root, "voc")
    assert [p.where for p in rep.problems] == ["line 1"]
    assert rep.files_checked == 0  # the outside XML was never read


def test_symlink_leading_out_of_the_root_is_refused(tmp_path, home):
    src = _coco_src(tmp_path / "src", ["a.png"])
    link = src / "images" / "train" / "b.png"
    link.symlink_to(home / "photo.png")
    data = json.loads((src / "annotations/instances_train.json").read_text())
    data["images"].append({"id": 2, "file_name": "b.png", "width": 8, "height": 6})
    (src / "annotations/instances_train.json").write_text(json.dumps(data))
    with pytest.raises(UnsafePathError, match="resolves outside"):
        convert(src, tmp_path / "dst", "coco", "voc")
    # writing through a linked folder in the destination is refused too
    dst = tmp_path / "dst2"
    write_dataset([_rec()], dst, "coco", classes=CLASSES, split="train")
    (dst / "images").mkdir(exist_ok=True)
    (dst / "images" / "val").symlink_to(home)
    with pytest.raises(UnsafePathError, match="resolves outside"):
        write_dataset([_rec("photo.png")], dst, "coco", classes=CLASSES, split="val",
                      images=[_img()], overwrite=True)  # fmt: skip
    assert (home / "photo.png").read_bytes() == b"my precious photo"


# ====================================================================== major: atomic output


def test_convert_failing_in_the_second_split_leaves_nothing(tmp_path):
    src = tmp_path / "src"
    write_dataset([_rec("a.png")], src, "coco", classes=CLASSES, split="train", images=[_img()])
    write_dataset([_rec("b.png")], src, "coco", classes=CLASSES, split="val", images=[_img()])
    (src / "images/val/b.png").unlink()
    with pytest.raises(FileNotFoundError, match="image missing"):
        convert(src, tmp_path / "dst", "coco", "yolo")
    assert not (tmp_path / "dst").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    # a failure while building the second split: VOC has one Annotations/<stem>.xml for all
    # splits, and val/a.jpg would replace train/a.png's (it used to, silently)
    (tmp_path / "dst").mkdir()
    data = json.loads((src / "annotations/instances_val.json").read_text())
    data["images"][0]["file_name"] = "a.jpg"
    (src / "annotations/instances_val.json").write_text(json.dumps(data))
    (src / "images/val/a.jpg").write_bytes(PNG)
    with pytest.raises(ValueError, match="write the same file 'Annotations/a.xml'"):
        convert(src, tmp_path / "dst", "coco", "voc")
    assert _snapshot(tmp_path / "dst") == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_convert_never_overwrites_a_non_empty_destination(tmp_path, home):
    src = tmp_path / "src"
    write_dataset([_rec()], src, "voc", classes=CLASSES, images=[_img()])
    dst = tmp_path / "dst"
    write_dataset([_rec()], dst, "voc", classes=["other", *CLASSES], images=[_img()])
    before = _snapshot(dst)
    with pytest.raises(FileExistsError, match="not empty; pass overwrite=True"):
        convert(src, dst, "voc", "voc")
    assert _snapshot(dst) == before
    assert data_cli(["convert", "--from", "voc", "--to", "yolo", str(src), str(dst)]) == 1
    assert _snapshot(dst) == before
    # explicit overwrite: the destination becomes exactly the converted dataset
    assert data_cli(["convert", "--from", "voc", "--to", "yolo", str(src), str(dst),
                     "--overwrite"]) == 0  # fmt: skip
    assert sorted(_snapshot(dst)) == [
        "data.yaml", "images", "images/train", "images/train/a.png", "labels",
        "labels/train", "labels/train/a.txt",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "home", "src"]
    with pytest.raises(ValueError, match="contains src"):
        convert(src, tmp_path, "voc", "coco", overwrite=True)  # would delete src and home
    assert (home / "photo.png").exists() and (src / "classes.txt").exists()


def test_write_dataset_checks_everything_before_writing(tmp_path):
    root = tmp_path / "voc"
    write_dataset([_rec("a.png")], root, "voc", classes=CLASSES, images=[_img()])
    before = _snapshot(root)
    with pytest.raises(ValueError, match="differ from the ones already in"):
        write_dataset([_rec("b.png")], root, "voc", classes=["cat"], split="val", images=[_img()])
    with pytest.raises(FileExistsError, match="already exist"):
        write_dataset([_rec("a.png")], root, "voc", classes=CLASSES, images=[_img()])
    with pytest.raises(ValueError, match="control character"):
        write_dataset([_rec("b.png", "c\x07at")], root, "voc", classes=["c\x07at"], split="val")
    assert _snapshot(root) == before
    # a second split with a new stem is added, the first kept
    write_dataset([_rec("b.png")], root, "voc", classes=CLASSES, split="val", images=[_img()])
    after = _snapshot(root)
    assert {k: v for k, v in after.items() if k in before} == before
    assert "Annotations/b.xml" in after and "ImageSets/Main/val.txt" in after


def test_non_utf8_image_name_is_refused_before_writing(tmp_path):
    src = tmp_path / "src"
    write_dataset([_rec("a.png")], src, "yolo", classes=CLASSES, images=[_img()])
    bad = os.fsencode(src / "images" / "train") + b"/b\xff.png"
    with open(bad, "wb") as f:
        f.write(PNG)
    with pytest.raises(UnsafePathError, match="not valid UTF-8"):
        convert(src, tmp_path / "dst", "yolo", "voc")
    assert not (tmp_path / "dst").exists()


# ==================================================================== major: safe_extract


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_safe_extract_never_deletes_a_folder_for_a_file_member(tmp_path):
    dest = tmp_path / "voc"
    (dest / "Annotations").mkdir(parents=True)
    (dest / "Annotations" / "mine.xml").write_text("<annotation/>")
    (tmp_path / "a.zip").write_bytes(_zip({"new.txt": b"n", "Annotations": b"a file"}))
    before = _snapshot(dest)
    with pytest.raises(FileExistsError, match="'Annotations' \\(a folder in the destination"):
        safe_extract(tmp_path / "a.zip", dest)
    assert _snapshot(dest) == before  # not even new.txt


def test_safe_extract_folder_member_over_a_file(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "images").write_text("my file")
    (tmp_path / "a.zip").write_bytes(_zip({"a.txt": b"1", "images/x.png": PNG}))
    with pytest.raises(FileExistsError, match="'images' \\(a file in the destination") as info:
        safe_extract(tmp_path / "a.zip", dest)
    assert ".extract-" not in str(info.value)
    assert _snapshot(dest) == {"images": b"my file"}
    # the same archive twice is fine: identical files are left alone
    (dest / "images").unlink()
    safe_extract(tmp_path / "a.zip", dest)
    safe_extract(tmp_path / "a.zip", dest)
    (dest / "a.txt").write_bytes(b"edited by the user")
    with pytest.raises(FileExistsError, match="a different file already exists"):
        safe_extract(tmp_path / "a.zip", dest)
    assert (dest / "a.txt").read_bytes() == b"edited by the user"


def test_safe_extract_truncated_tar_and_self_colliding_members(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in ("a.txt", "b.txt"):
            info = tarfile.TarInfo(name)
            info.size = 5000
            tf.addfile(info, io.BytesIO(b"x" * 5000))
    (tmp_path / "t.tar").write_bytes(buf.getvalue()[:7000])
    with pytest.raises(ValueError, match="t.tar: truncated or corrupt"):
        safe_extract(tmp_path / "t.tar", tmp_path / "out")
    assert _snapshot(tmp_path / "out") == {}
    (tmp_path / "c.zip").write_bytes(_zip({"a": b"file", "a/b": b"inside"}))
    with pytest.raises(ValueError, match="collide with each other") as info:
        safe_extract(tmp_path / "c.zip", tmp_path / "out")
    assert ".extract-" not in str(info.value)
    assert _snapshot(tmp_path / "out") == {}


# =========================================================================== major: masks


@pytest.mark.parametrize(
    ("seg", "match"),
    [
        ([[0, 0, float("nan"), 0, 4, 2]], "non-finite coordinate nan"),
        ([[0, 0, float("inf"), 0, 4, 2]], "non-finite coordinate inf"),
        ([[0, 0, 1e12, 0, 4, 2]], "more than one image size outside"),
        ([[0, 0, 4, 0]], "even number \\(>= 6\\)"),
        ({"size": [6, 8], "counts": [10**9]}, "add up to 1000000000, expected height"),
        ({"size": [6, 8], "counts": [40, 9]}, "add up to 49, expected"),
        ({"size": [6, 8], "counts": [-1, 49]}, "negative run length"),
        ({"size": [60, 80], "counts": [4800]}, "differs from the image's"),
        ({"size": [6, 8], "counts": "PPPPPPPPPPPPPPP0"}, "too large for a mask"),
        ({"size": [6, 8], "counts": "05"}, "add up to 5, expected"),
        ({"size": [6, 8], "counts": "\x7f"}, "invalid character"),
    ],
)
def test_masks_checked_before_pycocotools(tmp_path, seg, match):
    with pytest.raises(ValueError, match=match):
        check_segmentation(seg, 6, 8)
    rec = ImageAnn("a.png", 8, 6, [ObjectAnn("cat", (0, 0, 4, 2), segmentation=seg)])
    with pytest.raises(ValueError, match=match):
        write_coco([rec], tmp_path / "c.json", CLASSES)
    assert not (tmp_path / "c.json").exists()
    with pytest.raises(ValueError, match=match):
        segmentation_area(seg, 6, 8)


def test_valid_masks_still_work():
    assert segmentation_area({"size": [6, 8], "counts": [10, 6, 32]}, 6, 8) == 6.0
    assert segmentation_area([[-8, -6, 16, -6, 16, 12]], 6, 8) > 0  # one image size outside


# =================================================================== major: YOLO layouts


@pytest.mark.parametrize("entry", ["train/images", "../train/images"])
def test_read_yolo_ultralytics_roboflow_layout(tmp_path, entry):
    root = tmp_path / "rf"
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "train" / "images" / "a.png").write_bytes(PNG)
    (root / "train" / "labels" / "a.txt").write_text("1 0.5 0.5 0.25 0.5\n")
    (root / "data.yaml").write_text(f"train: {entry}\nnc: 2\nnames: ['cat', 'dog']\n")
    recs, classes = read_dataset(root, "yolo", "train")
    assert classes == CLASSES
    assert [(o.label, o.bbox) for o in recs[0].objects] == [("dog", (3.0, 1.5, 5.0, 4.5))]
    convert(root, tmp_path / "c", "yolo", "coco")
    assert read_dataset(tmp_path / "c", "coco", "train")[0][0].objects[0].label == "dog"
    rep = validate(root, "yolo")
    assert rep.ok and rep.files_checked == 2
    (root / "data.yaml").write_text("train: ../../elsewhere/images\nnames: ['cat']\n")
    with pytest.raises(UnsafePathError, match="data.yaml: split 'train'"):
        read_dataset(root, "yolo", "train")


# ========================================================================= major: repair


@pytest.mark.parametrize("line", ["0 nan 0.5 0.2 0.2", "0 0.5 0.5 inf 0.2", "0 0.5 -inf 0.2 0.2"])
def test_repair_drops_non_finite_lines_instead_of_widening_them(tmp_path, line):
    p = tmp_path / "a.txt"
    p.write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    rep = validate(p, "yolo", repair=True)
    assert [(q.where, q.fix) for q in rep.repaired] == [("line 2", "line dropped")]
    assert "finite" in rep.repaired[0].reason
    assert p.read_text() == "0 0.500000 0.500000 0.200000 0.200000\n"


# ============================================================================ minor: COCO


def _coco_dict(**over):
    d = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    for key, value in over.items():
        section, field_ = key.split("__")
        d[section][0][field_] = value
    return d


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"categories__id": "DROP"}, r"categories\[0\]: missing key 'id'"),
        ({"categories__id": "1"}, r"categories\[0\]: id must be an integer, got '1'"),
        ({"categories__id": [1]}, r"id must be an integer, got \[1\]"),
        ({"images__id": True}, r"images\[0\]: id must be an integer, got True"),
        ({"images__width": "ten"}, r"images\[0\] \(id 1\) width: must be a positive whole"),
        ({"images__width": None}, "width: must be a positive whole number, got None"),
        ({"images__width": 1e400}, "width: must be a positive whole number, got inf"),
        ({"images__height": 2.5}, "height: must be a positive whole number, got 2.5"),
        ({"annotations__bbox": [1, None, 2, 2]}, r"\(id 1\) bbox: must be a finite number"),
        ({"annotations__bbox": [1, float("nan"), 2, 2]}, "bbox: must be a finite number, got nan"),
        ({"annotations__bbox": [1, 1, float("inf"), 2]}, "must be a finite number, got inf"),
        ({"annotations__area": float("nan")}, "area: must be a finite number, got nan"),
        ({"annotations__image_id": [1]}, "image_id: id must be an integer"),
        ({"images__file_name": 5}, "file_name must be a string"),
    ],
)
def test_read_coco_hostile_values(tmp_path, over, match):
    d = _coco_dict(**{k: v for k, v in over.items() if v != "DROP"})
    for k, v in over.items():
        if v == "DROP":
            section, field_ = k.split("__")
            del d[section][0][field_]
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))  # json writes NaN / Infinity literals for nan / inf
    with pytest.raises(ValueError, match=match) as info:
        read_coco(p)
    assert str(p) in str(info.value)


def test_read_coco_mixed_id_types_and_cli_has_no_traceback(tmp_path, capsys):
    d = _coco_dict()
    d["categories"].append({"id": "2", "name": "dog"})
    p = tmp_path / "s" / "annotations" / "instances_train.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"categories\[1\]: id must be an integer, got '2'"):
        read_coco(p)
    assert (
        data_cli(
            ["convert", "--from", "coco", "--to", "voc", str(tmp_path / "s"), str(tmp_path / "o")]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert out.startswith("error: ") and "Traceback" not in out and "categories[1]" in out
    p.write_bytes(b'{"images": [\xff]}')
    with pytest.raises(ValueError, match="not valid UTF-8"):
        read_coco(p)


# ============================================================================= minor: VOC


def _voc_xml(width="8", xmin="2", difficult="0"):
    return (
        f"<annotation><filename>a.png</filename><size><width>{width}</width>"
        f"<height>6</height></size><object><name>cat</name><difficult>{difficult}</difficult>"
        f"<bndbox><xmin>{xmin}</xmin><ymin>2</ymin><xmax>5</xmax><ymax>4</ymax></bndbox>"
        "</object></annotation>"
    )


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"width": "nan"}, r"<width> must be a finite number, got 'nan'"),
        ({"width": "inf"}, r"<width> must be a finite number, got 'inf'"),
        ({"width": "0"}, r"<size> width: must be a positive whole number"),
        ({"xmin": "nan"}, r"object 0: <xmin> must be a finite number, got 'nan'"),
        ({"difficult": "maybe"}, r"object 0: <difficult> must be 0 or 1, got 'maybe'"),
    ],
)
def test_read_voc_hostile_values(tmp_path, kw, match):
    p = tmp_path / "a.xml"
    p.write_text(_voc_xml(**kw))
    with pytest.raises(ValueError, match=match) as info:
        read_voc(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize(("text", "flag"), [("no", False), ("No", False), ("yes", True),
                                            ("1", True), ("false", False)])  # fmt: skip
def test_read_voc_difficult_words(tmp_path, text, flag):
    p = tmp_path / "a.xml"
    p.write_text(_voc_xml(difficult=text))
    assert read_voc(p).objects[0].difficult is flag


# ============================================================================ minor: YOLO


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("0 nan 0.5 0.2 0.2", "finite"),
        ("0 0.5 0.5 inf 0.2", "finite"),
        ("0 0.5 0.5 -0.2 0.2", "w and h must be positive"),
        ("1e0 0.5 0.5 0.2 0.2", "class id must be a whole number"),
    ],
)
def test_read_yolo_hostile_values(tmp_path, line, match):
    p = tmp_path / "a.txt"
    p.write_text(line + "\n")
    with pytest.raises(ValueError, match=f"a.txt line 1: .*{match}"):
        read_yolo(p, (8, 6), CLASSES)


def test_read_yolo_non_utf8_and_segmentation_lines(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"0 0.5 0.5 0.2 0.2 \xff\n")
    with pytest.raises(ValueError, match="a.txt: label file is not valid UTF-8"):
        read_yolo(p, (8, 6), CLASSES)
    p.write_text("1 0.25 0.5 0.75 0.5 0.5 1.0\n")
    (obj,) = read_yolo(p, (8, 6), CLASSES)
    assert obj.label == "dog" and obj.bbox == (2.0, 3.0, 6.0, 6.0)
    assert obj.segmentation == [[2.0, 3.0, 6.0, 3.0, 4.0, 6.0]]


# ======================================================================== minor: validate


def test_validate_reports_text_and_empty_image_files(tmp_path):
    root = tmp_path / "d"
    write_dataset([_rec("a.png"), _rec("b.png"), _rec("c.png")], root, "coco",
                  classes=CLASSES, images=[_img()] * 3)  # fmt: skip
    (root / "images/train/a.png").write_text("this is not a png")
    (root / "images/train/b.png").write_bytes(b"")
    rep = validate(root, "coco")
    reasons = sorted(p.reason for p in rep.problems)
    assert len(reasons) == 2
    assert "is empty (0 bytes)" in reasons[0] or "is empty (0 bytes)" in reasons[1]
    assert any("a.png is not a readable image" in r for r in reasons)
    yolo = tmp_path / "y"
    write_dataset([_rec("a.png")], yolo, "yolo", classes=CLASSES, images=[_img()])
    (yolo / "images/train/a.png").write_bytes(b"")
    assert [p.reason.endswith("is empty (0 bytes)") for p in validate(yolo, "yolo").problems] == [
        True
    ]


def test_validate_class_written_as_float_and_yolo_seg_repair(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("1e0 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.9 0.1 0.5 0.9\n1 0.1 0.1 1.2 0.1 0.5 0.9\n")
    rep = validate(p, "yolo", num_classes=2)
    assert [(q.where, q.reason) for q in rep.problems] == [
        ("line 1", "class id '1e0' is not written as a whole number"),
        ("line 3", "polygon values outside [0, 1]: 1.2"),
    ]
    rep = validate(p, "yolo", num_classes=2, repair=True)
    assert rep.ok and len(rep.repaired) == 2
    lines = p.read_text().splitlines()
    assert lines[0] == "1 0.500000 0.500000 0.200000 0.200000"
    assert lines[1] == "0 0.1 0.1 0.9 0.1 0.5 0.9"  # the polygon is kept, not emptied
    assert lines[2].startswith("1 0.100000 0.100000 1.000000 ")
    assert len(read_yolo(p, (8, 6), CLASSES)) == 3


def test_validate_repair_nan_area(tmp_path):
    d = _coco_dict(annotations__area=float("nan"))
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    rep = validate(p, "coco", repair=True)
    assert [(q.where, q.fix) for q in rep.repaired] == [
        ("annotations[0] (id 1)", "set to the box area 4")
    ]
    assert read_coco(p)[0][0].objects[0].area == 2.0 * 2.0


# ========================================================================= minor: writers


@pytest.mark.parametrize(
    ("rec", "match"),
    [
        (ImageAnn("a.png", 8, 6, [ObjectAnn("c\nat", (1, 1, 2, 2))]), "control character"),
        (ImageAnn("a.png", 8, 6, [ObjectAnn("cat", (1, float("nan"), 2, 2))]), "finite"),
        (ImageAnn("a.png", 0, 6, [ObjectAnn("cat", (1, 1, 2, 2))]), "width: must be a positive"),
        (ImageAnn("/abs.png", 8, 6, []), "absolute path"),
    ],
)
def test_write_voc_and_yolo_refuse_what_readers_reject(tmp_path, rec, match):
    classes = [o.label for o in rec.objects] or CLASSES
    with pytest.raises(ValueError, match=match):
        write_voc(rec, tmp_path / "a.xml")
    if "absolute" not in match:
        with pytest.raises(ValueError, match=match):
            write_yolo(rec, tmp_path / "a.txt", classes)
    assert list(tmp_path.iterdir()) == []


# =============================================================== property: all or nothing


FAULTS = ["none", "missing_image", "escaping_name", "nan_box", "bad_category"]


def _build_source(src: Path, n_train: int, n_val: int, fault: str, where: str) -> None:
    recs = {
        "train": [_rec(f"t{i}.png", CLASSES[i % 2]) for i in range(n_train)],
        "val": [_rec(f"v{i}.png", CLASSES[i % 2]) for i in range(n_val)],
    }
    for split, rs in recs.items():
        if rs:
            write_dataset(rs, src, "coco", classes=CLASSES, split=split, images=[_img()] * len(rs))
    split = where if recs[where] else "train"
    ann = src / "annotations" / f"instances_{split}.json"
    data = json.loads(ann.read_text())
    if fault == "missing_image":
        (src / "images" / split / data["images"][-1]["file_name"]).unlink()
    elif fault == "escaping_name":
        data["images"][-1]["file_name"] = "../../home/photo.png"
    elif fault == "nan_box":
        data["annotations"][-1]["bbox"][2] = float("nan")
    elif fault == "bad_category":
        data["annotations"][-1]["category_id"] = 99
    ann.write_text(json.dumps(data))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_train=st.integers(1, 3),
    n_val=st.integers(0, 2),
    fault=st.sampled_from(FAULTS),
    where=st.sampled_from(["train", "val"]),
    dst_format=st.sampled_from(["voc", "coco", "yolo"]),
    dst_state=st.sampled_from(["absent", "empty", "full"]),
    overwrite=st.booleans(),
)
def test_convert_is_all_or_nothing(tmp_path_factory, n_train, n_val, fault, where, dst_format,
                                   dst_state, overwrite):  # fmt: skip
    base = tmp_path_factory.mktemp("prop")
    (base / "home").mkdir()
    (base / "home" / "photo.png").write_bytes(b"mine")
    src, dst = base / "src", base / "dst"
    _build_source(src, n_train, n_val, fault, where)
    if dst_state != "absent":
        dst.mkdir()
    if dst_state == "full":
        (dst / "keep.txt").write_text("user data")
    before = _snapshot(dst)
    src_before = _snapshot(src)
    try:
        rep = convert(src, dst, "coco", dst_format, warn=False, overwrite=overwrite)
    except (ValueError, OSError):
        assert _snapshot(dst) == before
        ok = False
    else:
        ok = True
        assert dst_state != "full" or overwrite
        assert rep.images == n_train + n_val
        for split, n in (("train", n_train), ("val", n_val)):
            if n:
                assert len(read_dataset(dst, dst_format, split)[0]) == n
        assert "keep.txt" not in _snapshot(dst)
    if fault != "none":
        assert not ok
    if fault == "none" and (dst_state != "full" or overwrite):
        assert ok
    assert _snapshot(src) == src_before
    assert (base / "home" / "photo.png").read_bytes() == b"mine"
    assert sorted(p.name for p in base.iterdir()) == sorted(
        ["home", "src"] + (["dst"] if (dst_state != "absent" or ok) else [])
    )
