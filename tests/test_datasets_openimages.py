"""Open Images CSV format: reader, writer, layout, validation and conversion (issue 10).

Every fixture is written into ``tmp_path``. Expected boxes are computed from the fractions
(``XMin * width``...), never copied from an earlier run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlcv_utils.datasets import (
    FormatLossWarning,
    ImageAnn,
    ObjectAnn,
    UnsafePathError,
    convert,
    read_dataset,
    read_openimages,
    validate,
    write_dataset,
    write_openimages,
)
from dlcv_utils.datasets._io import encode_image
from dlcv_utils.datasets.cli import build_parser
from dlcv_utils.datasets.cli import main as data_cli
from dlcv_utils.datasets.openimages import BOX_COLUMNS, read_class_table
from dlcv_utils.datasets.table import FORMAT_NAMES

HEADER = ",".join(BOX_COLUMNS)
TABLE = {"/m/01g317": "Person", "/m/0k4j": "Car"}
W, H = 97, 61  # odd sizes: fractions are not short decimals


def _jpg(w: int = W, h: int = H, value: int = 90) -> bytes:
    return encode_image(np.full((h, w, 3), value, np.uint8), ".jpg")


def _oi_root(tmp_path: Path, rows: list[str], *, header: bool = True, table_header=False,
             images: dict[str, bytes] | None = None, split: str = "train") -> Path:  # fmt: skip
    """An Open Images root: class table, ``<split>-annotations-bbox.csv`` and images."""
    root = tmp_path / "oi"
    (root / split).mkdir(parents=True, exist_ok=True)
    lines = (["LabelName,DisplayName"] if table_header else []) + [
        f"{m},{n}" for m, n in TABLE.items()
    ]
    (root / "class-descriptions-boxable.csv").write_text("\n".join(lines) + "\n")
    text = "\n".join(([HEADER] if header else []) + rows) + "\n"
    (root / f"{split}-annotations-bbox.csv").write_text(text)
    for name, data in (images if images is not None else {"img1.jpg": _jpg()}).items():
        (root / split / name).write_bytes(data)
    return root


def _snapshot(root: Path) -> dict[str, bytes | None]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


GOOD = "img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,0,1,0,0,0"
GROUP = "img1,xclick,/m/0k4j,1,0.25,0.75,0.125,0.375,0,0,1,0,0"


def test_registered_everywhere():
    assert "openimages" in FORMAT_NAMES
    args = build_parser().parse_args(["convert", "--from", "openimages", "--to", "voc", "a", "b"])
    assert args.src_format == "openimages"
    args = build_parser().parse_args(["validate", "--format", "openimages", "x"])
    assert args.fmt == "openimages"


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("table_header", [True, False])
def test_read_with_and_without_headers(tmp_path, header, table_header):
    root = _oi_root(tmp_path, [GOOD, GROUP], header=header, table_header=table_header)
    records, classes = read_dataset(root, "openimages", "train")
    assert classes == ["Person", "Car"]
    (rec,) = records
    assert (rec.file_name, rec.width, rec.height) == ("img1.jpg", W, H)
    person, car = rec.objects
    assert person.label == "Person" and car.label == "Car"
    np.testing.assert_allclose(person.bbox, (0.1 * W, 0.2 * H, 0.5 * W, 0.9 * H), atol=1e-6)
    np.testing.assert_allclose(car.bbox, (0.25 * W, 0.125 * H, 0.75 * W, 0.375 * H), atol=1e-6)
    assert person.truncated and not person.iscrowd  # IsTruncated=1
    assert car.iscrowd and not car.truncated  # IsGroupOf=1 <-> iscrowd


def test_columns_found_by_header_extra_columns_ignored(tmp_path):
    # the official train file has XClick* columns; columns are matched by name, not position
    root = _oi_root(tmp_path, [])
    cols = ["LabelName", "ImageID", "YMin", "YMax", "XMin", "XMax", "XClick1X", "IsGroupOf"]
    (root / "train-annotations-bbox.csv").write_text(
        ",".join(cols) + "\n/m/0k4j,img1,0.5,1,0,0.5,0.3,1\n"
    )
    with pytest.warns(FormatLossWarning, match="IsTruncated=-1 \\(unknown\\) read as truncated"):
        (rec,), _ = read_dataset(root, "openimages", "train")  # no IsTruncated: unknown
    obj = rec.objects[0]
    np.testing.assert_allclose(obj.bbox, (0, 0.5 * H, 0.5 * W, H), atol=1e-6)
    assert obj.iscrowd and not obj.truncated


def test_missing_header_columns_and_detection_dataset(tmp_path):
    root = _oi_root(tmp_path, [GOOD, GROUP])
    from dlcv_utils.datasets import DetectionDataset

    ds = DetectionDataset(root, "openimages", "train")
    image, target = ds[0]
    assert tuple(image.shape) == (3, H, W) and target["labels"].tolist() == [1, 2]
    np.testing.assert_allclose(
        target["boxes"][1].tolist(), (0.25 * W, 0.125 * H, 0.75 * W, 0.375 * H), atol=1e-4
    )
    (root / "train-annotations-bbox.csv").write_text("\nImageID,LabelName,XMin,XMax,YMin\n")
    with pytest.raises(ValueError, match=r"line 2: header lacks the column\(s\) \['YMax'\]"):
        read_dataset(root, "openimages", "train")
    assert [(p.where, p.reason) for p in validate(root, "openimages").problems] == [
        ("line 2", "header lacks the column(s) ['YMax']")
    ]


def test_official_file_names_and_background_images(tmp_path):
    root = _oi_root(tmp_path, [GOOD], images={"img1.jpg": _jpg(), "empty.jpg": _jpg(20, 10)})
    (root / "train-annotations-bbox.csv").rename(root / "oidv6-train-annotations-bbox.csv")
    (root / "class-descriptions-boxable.csv").rename(root / "oidv7-class-descriptions-boxable.csv")
    records, _ = read_dataset(root, "openimages", "train")
    assert [(r.file_name, r.width, r.height, len(r.objects)) for r in records] == [
        ("empty.jpg", 20, 10, 0),
        ("img1.jpg", W, H, 1),
    ]


def test_image_size_from_the_header_only(tmp_path):
    # a JPEG cut just after its header (the start-of-scan marker): a full decode would fail,
    # the size is still known
    data = _jpg(W, H)
    cut = data[: data.index(b"\xff\xda") + 16]
    root = _oi_root(tmp_path, [GOOD], images={"img1.jpg": cut})
    with pytest.raises(OSError), Image.open(root / "train" / "img1.jpg") as im:
        im.load()  # decoding the pixels fails
    (rec,), _ = read_dataset(root, "openimages", "train")
    assert (rec.width, rec.height) == (W, H)


def test_shared_display_name_keeps_the_mids_apart(tmp_path):
    root = _oi_root(tmp_path, [GOOD])
    (root / "class-descriptions-boxable.csv").write_text("/m/01g317,Bat\n/m/0k4j,Bat\n")
    (rec,), classes = read_dataset(root, "openimages", "train")
    assert classes == ["Bat (/m/01g317)", "Bat (/m/0k4j)"]
    assert rec.objects[0].label == "Bat (/m/01g317)"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("img1,xclick,/m/01g317,1,abc,0.5,0.2,0.9,0,0,0,0,0", "XMin is not a number: 'abc'"),
        ("img1,xclick,/m/01g317,1,nan,0.5,0.2,0.9,0,0,0,0,0", "XMin must be a finite number"),
        ("img1,xclick,/m/01g317,1,0.1,inf,0.2,0.9,0,0,0,0,0", "XMax must be a finite number"),
        ("img1,xclick,/m/01g317,nan,0.1,0.5,0.2,0.9,0,0,0,0,0", "Confidence must be a finite"),
        ("img1,xclick,/m/zzz,1,0.1,0.5,0.2,0.9,0,0,0,0,0", "unknown LabelName '/m/zzz'"),
        ("img1,xclick,/m/01g317,1,0.5,0.1,0.2,0.9,0,0,0,0,0", "XMin 0.5 must be below XMax 0.1"),
        ("img1,xclick,/m/01g317,1,0.1,0.5,0.9,0.9,0,0,0,0,0", "YMin 0.9 must be below YMax 0.9"),
        ("img1,xclick,/m/01g317,1,0.1,1.5,0.2,0.9,0,0,0,0,0", "XMax 1.5 is outside [0, 1]"),
        ("img1,xclick,/m/01g317,1,-0.1,0.5,0.2,0.9,0,0,0,0,0", "XMin -0.1 is outside [0, 1]"),
        ("img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,2,0,0,0,0", "IsOccluded must be 1, 0 or -1"),
        ("img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,0,0,yes,0,0", "IsGroupOf must be 1, 0 or -1"),
        ("img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,0,0,0,0", "expected 13 fields, got 12"),
    ],
)
def test_hostile_rows_name_file_line_and_reason(tmp_path, row, message):
    root = _oi_root(tmp_path, [GOOD, row])
    with pytest.raises(ValueError, match="train-annotations-bbox.csv line 3") as err:
        read_dataset(root, "openimages", "train")
    assert message in str(err.value)
    rep = validate(root, "openimages")  # validate finds the same row, and only that row
    assert [p.where for p in rep.problems] == ["line 3"], rep


@pytest.mark.parametrize("image_id", ["../evil", "/etc/passwd", "sub/img1", "..", "a\x01b"])
def test_unsafe_image_id_is_refused(tmp_path, image_id):
    home = tmp_path / "evil.jpg"
    home.write_bytes(_jpg())
    row = f"{image_id},xclick,/m/01g317,1,0.1,0.5,0.2,0.9,0,0,0,0,0"
    root = _oi_root(tmp_path, [GOOD, row])
    with pytest.raises(UnsafePathError, match="line 3 ImageID"):
        read_dataset(root, "openimages", "train")
    rep = validate(root, "openimages")
    assert [p.where for p in rep.problems] == ["line 3"]


def test_missing_and_broken_images(tmp_path):
    root = _oi_root(tmp_path, [GOOD, GOOD.replace("img1", "gone")])
    with pytest.raises(FileNotFoundError, match=r"line 3: no image gone\.jpg"):
        read_dataset(root, "openimages", "train")
    rep = validate(root, "openimages")
    assert [(p.where, p.reason[:17]) for p in rep.problems] == [("line 3", "no image gone.jpg")]
    (root / "train" / "img1.jpg").write_bytes(b"not an image")
    (root / "train-annotations-bbox.csv").write_text(f"{HEADER}\n{GOOD}\n")
    with pytest.raises(ValueError, match="img1.jpg: not a readable image"):
        read_dataset(root, "openimages", "train")
    assert "not a readable image" in validate(root, "openimages").problems[0].reason


def test_bad_bytes_and_bad_class_tables(tmp_path):
    root = _oi_root(tmp_path, [GOOD])
    csv_path = root / "train-annotations-bbox.csv"
    csv_path.write_bytes(HEADER.encode() + b"\nimg1,\xff\xfe\n")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        read_dataset(root, "openimages", "train")
    csv_path.write_bytes(HEADER.encode() + b"\n" + GOOD.replace("img1", "im\x00g").encode())
    with pytest.raises(ValueError, match="line 2 ImageID .* control character"):
        read_dataset(root, "openimages", "train")
    csv_path.write_text(f"{HEADER}\n{GOOD}\n")
    table = root / "class-descriptions-boxable.csv"
    table.write_text("/m/01g317,Person\n/m/01g317,Human\n")
    with pytest.raises(ValueError, match="line 2: duplicate MID '/m/01g317' \\(also line 1\\)"):
        read_dataset(root, "openimages", "train")
    table.write_text("/m/01g317,Person,extra\n")
    with pytest.raises(ValueError, match="line 1: expected 2 fields"):
        read_class_table(table)
    table.unlink()
    with pytest.raises(FileNotFoundError, match="class table"):
        read_dataset(root, "openimages", "train")


def test_validate_reports_every_row_and_repairs(tmp_path):
    rows = [
        GOOD,
        "img1,xclick,/m/01g317,1,0.1,1.25,0.2,0.9,0,0,0,0,0",  # line 3: clipped
        "img1,xclick,/m/0k4j,1,0.5,0.1,0.2,0.9,0,0,0,0,0",  # line 4: dropped
        "img1,xclick,/m/nope,1,0.1,0.5,0.2,0.9,0,0,0,0,0",  # line 5: dropped
        "img1,xclick,/m/0k4j,1,0.1,0.5,0.2,0.9,0,7,0,0,0",  # line 6: flag -> -1
        "img1,xclick,/m/0k4j,1,nan,0.5,0.2,0.9,0,0,0,0,0",  # line 7: dropped
        "img1,xclick,/m/0k4j,1,1.5,2,0.2,0.9,0,0,0,0,0",  # line 8: entirely outside
    ]
    root = _oi_root(tmp_path, rows)
    rep = validate(root, "openimages")
    assert [p.where for p in rep.problems] == [f"line {n}" for n in range(3, 9)]
    assert rep.files_checked == 2  # class table + box CSV
    strict_err = None
    try:
        validate(root, "openimages", strict=True)
    except ValueError as err:
        strict_err = err
    assert strict_err is not None and len(strict_err.problems) == 6
    rep = validate(root, "openimages", repair=True)
    assert rep.ok and [p.fix for p in rep.repaired] == [
        "clipped to [0, 1]",
        "row dropped",
        "row dropped",
        "set to -1 (unknown)",
        "row dropped",
        "row dropped",
    ]
    assert validate(root, "openimages").ok
    with pytest.warns(FormatLossWarning, match="line 4: IsTruncated=-1"):  # the repaired flag
        (rec,), _ = read_dataset(root, "openimages", "train")
    assert len(rec.objects) == 3
    np.testing.assert_allclose(rec.objects[1].bbox, (0.1 * W, 0.2 * H, W, 0.9 * H), atol=1e-6)


def test_validate_single_file_uses_the_class_table_beside_it(tmp_path):
    root = _oi_root(tmp_path, [GOOD, GOOD.replace("/m/01g317", "/m/x")])
    rep = validate(root / "train-annotations-bbox.csv", "openimages")
    assert [(p.where, p.reason) for p in rep.problems] == [
        ("line 3", "unknown LabelName '/m/x' (not in the class table)")
    ]
    assert data_cli(["validate", "--format", "openimages", "--strict", str(root)]) == 1


def test_read_losses_are_warned(tmp_path):
    rows = [
        "img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,1,0,0,0,0",  # IsOccluded=1
        "img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,0,-1,0,1,0",  # unknown truncation, depiction
        "img1,activemil,/m/01g317,0.5,0.1,0.5,0.2,0.9,0,0,0,0,0",  # Confidence 0.5
    ]
    root = _oi_root(tmp_path, rows)
    with pytest.warns(FormatLossWarning, match="4, e.g. .*line 2: records cannot hold IsOccluded"):
        read_dataset(root, "openimages", "train")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_openimages(
            root / "train-annotations-bbox.csv", root / "train", TABLE, warn=False
        )  # fmt: skip


def test_convert_reports_what_the_records_cannot_hold(tmp_path):
    rows = [
        "img1,xclick,/m/01g317,1,0.1,0.5,0.2,0.9,1,0,0,0,0",  # IsOccluded=1
        "img1,xclick,/m/0k4j,1,0.1,0.5,0.2,0.9,0,0,-1,0,1",  # unknown group, IsInside=1
    ]
    root = _oi_root(tmp_path, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warn=False: reported, not warned
        rep = convert(root, tmp_path / "voc", "openimages", "voc", warn=False)
    assert rep.losses == [
        "train-annotations-bbox.csv line 2: records cannot hold IsOccluded=1 (dropped)",
        "train-annotations-bbox.csv line 3: records cannot hold IsInside=1 (dropped)",
        "train-annotations-bbox.csv line 3: IsGroupOf=-1 (unknown) read as iscrowd=False",
    ]
    with pytest.warns(FormatLossWarning, match="COCO cannot hold everything: 3 field"):
        convert(root, tmp_path / "coco", "openimages", "coco")
    assert data_cli(["convert", "--from", "openimages", "--to", "yolo", str(root),
                     str(tmp_path / "yolo")]) == 0  # fmt: skip


def _voc_source(tmp_path: Path) -> tuple[Path, list[ImageAnn]]:
    recs = [
        ImageAnn("a.jpg", W, H, [
            ObjectAnn("cat", (1, 2, 50.5, 60), truncated=True),
            ObjectAnn("dog", (0, 0, W, H)),
            ObjectAnn("cat", (13.25, 7, 14.75, 9)),
        ]),
        ImageAnn("b.png", 40, 30, []),
        ImageAnn("c.png", 33, 17, [ObjectAnn("dog", (32, 16, 33, 17), difficult=True)]),
    ]  # fmt: skip
    images = [np.full((r.height, r.width, 3), 50, np.uint8) for r in recs]
    src = tmp_path / "voc"
    write_dataset(recs, src, "voc", classes=["cat", "dog"], images=images, warn=False)
    return src, recs


def test_round_trip_voc_openimages_voc(tmp_path):
    src, recs = _voc_source(tmp_path)
    rep = convert(src, tmp_path / "oi", "voc", "openimages", warn=False)
    assert rep.images == 3 and rep.objects == 4
    assert rep.losses == ["c.png object 0: Open Images cannot hold difficult=1 (dropped)"]
    assert (tmp_path / "oi" / "train" / "b.png").is_file()
    rep = convert(tmp_path / "oi", tmp_path / "back", "openimages", "voc", warn=False)
    assert rep.losses == []
    back, classes = read_dataset(tmp_path / "back", "voc", "train")
    assert classes == ["cat", "dog"]
    assert [r.file_name for r in back] == [r.file_name for r in recs]
    for got, want in zip(back, recs):
        assert (got.width, got.height) == (want.width, want.height)
        assert [o.label for o in got.objects] == [o.label for o in want.objects]
        assert [o.truncated for o in got.objects] == [o.truncated for o in want.objects]
        for go, wo in zip(got.objects, want.objects):
            # 10 decimals of a fraction, times the size, rounded to 6 decimals
            np.testing.assert_allclose(go.bbox, wo.bbox, atol=1e-6)


def test_coco_group_of_and_mask_losses(tmp_path):
    seg = [[2, 2, 10, 2, 10, 10, 2, 10]]
    recs = [ImageAnn("m.png", 20, 20, [ObjectAnn("crowd", (2, 2, 10, 10), iscrowd=True,
                                                 segmentation=seg)])]  # fmt: skip
    write_dataset(recs, tmp_path / "coco", "coco", classes=["crowd"],
                  images=[np.zeros((20, 20, 3), np.uint8)])  # fmt: skip
    rep = convert(tmp_path / "coco", tmp_path / "oi", "coco", "openimages", warn=False)
    assert rep.losses == ["m.png object 0: Open Images' box CSV cannot hold a mask (dropped)"]
    text = (tmp_path / "oi" / "train-annotations-bbox.csv").read_text().splitlines()
    assert text[1] == "m,dlcv,/dlcv/0,1,0.1,0.5,0.1,0.5,-1,0,1,-1,-1"  # IsGroupOf = iscrowd
    (rec,), _ = read_dataset(tmp_path / "oi", "openimages", "train")
    assert rec.objects[0].iscrowd


def test_writer_clips_boxes_outside_the_image_and_reports_it(tmp_path):
    rec = ImageAnn("a.png", 10, 10, [ObjectAnn("x", (-2, 0, 12, 5))])
    with pytest.warns(FormatLossWarning, match="reaches outside the 10 x 10 image: clipped"):
        write_openimages([rec], tmp_path / "b.csv", ["x"])
    assert "a,dlcv,/dlcv/0,1,0,1,0,0.5," in (tmp_path / "b.csv").read_text()
    with pytest.raises(ValueError, match="has no area inside"):
        write_openimages([ImageAnn("a.png", 10, 10, [ObjectAnn("x", (11, 0, 12, 5))])],
                         tmp_path / "c.csv", ["x"], warn=False)  # fmt: skip
    assert not (tmp_path / "c.csv").exists()


def test_writer_refuses_folders_and_shared_image_ids(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="plain file names"):
        write_dataset([ImageAnn("sub/a.png", 4, 4)], tmp_path / "x", "openimages",
                      classes=["c"], images=[img])  # fmt: skip
    with pytest.raises(ValueError, match="share the ImageID 'a'"):
        write_dataset([ImageAnn("a.png", 4, 4), ImageAnn("a.jpg", 4, 4)], tmp_path / "x",
                      "openimages", classes=["c"], images=[img, img])  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_second_split_keeps_the_mids_of_the_class_table(tmp_path):
    root = tmp_path / "oi"
    root.mkdir()
    (root / "class-descriptions-boxable.csv").write_text("/m/01g317,Person\n/m/0k4j,Car\n")
    recs = [ImageAnn("v.jpg", 8, 8, [ObjectAnn("Car", (0, 0, 4, 4))])]
    write_dataset(recs, root, "openimages", classes=["Person", "Car"], split="validation",
                  images=[np.zeros((8, 8, 3), np.uint8)])  # fmt: skip
    row = (root / "validation-annotations-bbox.csv").read_text().splitlines()[1]
    assert row.split(",")[2] == "/m/0k4j"
    assert find_ok(root) == ["validation"]
    before = _snapshot(root)
    with pytest.raises(ValueError, match="differ from the ones already in"):
        write_dataset(recs, root, "openimages", classes=["Car"], split="test")
    assert _snapshot(root) == before


def find_ok(root):
    from dlcv_utils.datasets import find_splits

    return find_splits(root, "openimages")


def test_convert_is_atomic_for_openimages(tmp_path):
    src, _ = _voc_source(tmp_path)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    before = _snapshot(dst)
    with pytest.raises(FileExistsError, match="not empty"):
        convert(src, dst, "voc", "openimages")
    assert _snapshot(dst) == before
    # a source with one bad row in its second split: nothing is written, nothing left beside
    oi = _oi_root(tmp_path, [GOOD])
    (oi / "val").mkdir()
    (oi / "val" / "img1.jpg").write_bytes(_jpg())
    (oi / "val-annotations-bbox.csv").write_text(f"{HEADER}\n{GOOD}\n{GOOD[:-2]}\n")
    for target in ("coco", "yolo", "voc", "openimages"):
        with pytest.raises(ValueError, match="val-annotations-bbox.csv line 3"):
            convert(oi, dst, "openimages", target, overwrite=True)
        assert _snapshot(dst) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "oi", "voc"]
    # overwrite=True replaces dst only once everything succeeded
    rep = convert(src, dst, "voc", "openimages", overwrite=True, warn=False)
    assert rep.images == 3 and not (dst / "keep.txt").exists()
    assert validate(dst, "openimages").ok


def test_cli_convert_to_and_from_openimages(tmp_path, capsys):
    src, _ = _voc_source(tmp_path)
    assert data_cli(["convert", "--from", "voc", "--to", "openimages", str(src),
                     str(tmp_path / "oi")]) == 0  # fmt: skip
    assert data_cli(["convert", "--from", "openimages", "--to", "coco", str(tmp_path / "oi"),
                     str(tmp_path / "coco")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "converted 3 images, 4 objects" in out and "difficult=1 (dropped)" in out
    records, classes = read_dataset(tmp_path / "coco", "coco", "train")
    assert classes == ["cat", "dog"] and sum(len(r.objects) for r in records) == 4
