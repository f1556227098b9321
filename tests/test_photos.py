"""Tests for the real photo set (data/photos) and dlcv_utils.datasets.photos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dlcv_utils.datasets import photos
from dlcv_utils.datasets.photos import (
    PHOTO_ANNOTATIONS,
    PHOTO_CLASSES,
    load_photos,
    package_photos,
    photo_records,
    read_image_rgb,
)

# the 80 COCO detection class names the photo labels must come from (a subset is enough here)
COCO_NAMES = {"person", "cat", "cup", "spoon", "clock", "bowl", "dining table", "motorcycle"}


def test_five_to_ten_photos_with_licence_file():
    assert 5 <= len(PHOTO_ANNOTATIONS) <= 10
    licence = (photos.photos_dir() / "LICENSE.md").read_text()
    for name, info in PHOTO_ANNOTATIONS.items():
        assert name in licence
        assert "CC0" in info["licence"] or "Public domain" in info["licence"]


def test_labels_are_coco_names():
    labels = {o.label for r in photo_records() for o in r.objects}
    assert labels <= COCO_NAMES
    assert labels == set(PHOTO_CLASSES)


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_committed_files_match_the_hand_annotations(fmt):
    loaded = load_photos(fmt)
    expected = photo_records()
    if fmt == "yolo":  # YOLO has no image list: files come back sorted by name
        expected = sorted(expected, key=lambda r: r.file_name)
    assert [r.file_name for _, r in loaded] == [r.file_name for r in expected]
    for (image, rec), want in zip(loaded, expected):
        assert image.dtype == np.uint8 and image.shape == (want.height, want.width, 3)
        assert (rec.width, rec.height) == (want.width, want.height)
        assert [o.label for o in rec.objects] == [o.label for o in want.objects]
        got = np.array([o.bbox for o in rec.objects])
        np.testing.assert_allclose(got, [o.bbox for o in want.objects], atol=0.01)
        tol = 0.01 if fmt == "yolo" else 0.0  # YOLO's 6 decimals: 512.000256 can come back
        for o in rec.objects:
            x1, y1, x2, y2 = o.bbox
            assert -tol <= x1 < x2 <= rec.width + tol and -tol <= y1 < y2 <= rec.height + tol
    if fmt == "voc":
        assert [o.difficult for _, r in loaded for o in r.objects] == [
            o.difficult for r in expected for o in r.objects
        ]
    if fmt == "coco":
        assert [r.image_id for _, r in loaded] == list(range(1, len(expected) + 1))


def test_committed_images_are_the_scikit_image_originals():
    for image, rec in load_photos("coco"):
        original = photos._source_image(rec.file_name)
        # JPEG re-encoding (quality 95) changes pixels only slightly
        assert np.abs(image.astype(float) - original).mean() < 3.0


def test_write_photos_reproduces_committed_files(tmp_path):
    root = photos.write_photos(tmp_path)
    committed = photos.photos_dir()
    ours = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    theirs = sorted(
        p.relative_to(committed)
        for p in committed.rglob("*")
        if p.is_file() and p.name != "LICENSE.md"
    )
    assert ours == theirs
    for rel in ours:
        assert (root / rel).read_bytes() == (committed / rel).read_bytes(), rel


def test_read_image_rgb_is_rgb(tmp_path):
    import cv2

    img = np.zeros((4, 6, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "r.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    back = read_image_rgb(tmp_path / "r.png")
    np.testing.assert_array_equal(back, img)
    with pytest.raises(FileNotFoundError, match="cannot read an image"):
        read_image_rgb(tmp_path / "none.png")


def test_load_photos_bad_format():
    with pytest.raises(ValueError, match="fmt must be one of"):
        load_photos("kitti")


def test_package_photos_absent_package():
    assert package_photos("surely_not_installed_pkg_123") == []
    with pytest.raises(ValueError, match="package must be a top-level package name"):
        package_photos("../etc")


def test_package_photos_finds_assets_without_import(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg_assets_demo"
    (pkg / "assets").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    for name in ("bus.jpg", "zidane.jpg", "notes.txt"):
        (pkg / "assets" / name).write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    found = package_photos("fakepkg_assets_demo")
    assert [p.name for p in found] == ["bus.jpg", "zidane.jpg"]
    assert all(isinstance(p, Path) for p in found)


def test_package_photos_without_assets(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg_no_assets"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert importlib.util.find_spec("fakepkg_no_assets") is not None
    assert package_photos("fakepkg_no_assets") == []
