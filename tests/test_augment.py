"""Box-aware augmentation: boxes move with the pixels, degenerate boxes go, labels stay aligned."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from dlcv_utils.course.recipes import (
    AugmentedDataset,
    ProposalAugment,
    box_augment,
    shapes_loaders,
)
from dlcv_utils.course.settings import Augmentation, ShapesData
from dlcv_utils.datasets.augment import BoxAugment, box_augmentation
from dlcv_utils.proposals.cache import ProposalCache


def painted(boxes, h=40, w=50):
    """An image whose pixels are 1 exactly inside each integer box, 0 elsewhere."""
    image = torch.zeros(3, h, w)
    for x1, y1, x2, y2 in boxes:
        image[:, y1:y2, x1:x2] = 1.0
    return image


def target_of(boxes, labels):
    n = len(boxes)
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "area": torch.tensor([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes], dtype=torch.float32),
        "iscrowd": torch.zeros(n, dtype=torch.int64),
        "image_id": 7,
    }


def bbox_of_ones(image):
    ys, xs = torch.nonzero(image[0] > 0.5, as_tuple=True)
    return [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]


def test_flip_moves_boxes_exactly_and_matches_the_pixels():
    boxes = [[3, 5, 11, 20], [30, 2, 49, 9]]
    image, target = painted(boxes), target_of(boxes, [2, 5])
    flip = BoxAugment(v2.RandomHorizontalFlip(p=1.0))
    out, tgt = flip(image, target)
    w = 50
    expected = [[w - 11, 5, w - 3, 20], [w - 49, 2, w - 30, 9]]
    assert tgt["boxes"].tolist() == expected
    assert tgt["labels"].tolist() == [2, 5]
    assert torch.equal(out, image.flip(-1))
    for box in expected:  # the flipped pixels are where the flipped boxes say
        x1, y1, x2, y2 = box
        assert out[:, y1:y2, x1:x2].min() == 1.0
    assert target["boxes"].tolist() == [[3, 5, 11, 20], [30, 2, 49, 9]]  # input untouched
    assert tgt["area"].tolist() == target["area"].tolist()  # a flip keeps every area
    assert isinstance(tgt["boxes"], tv_tensors.BoundingBoxes) and tgt["image_id"] == 7


def test_affine_zoom_and_shift_move_boxes_with_the_pixels():
    boxes = [[16, 12, 24, 18]]
    image, target = painted(boxes), target_of(boxes, [1])
    # scale 2 about the centre (25, 20), then shift by (+4, -2): x -> 2(x - 25) + 25 + 4
    t = v2.RandomAffine(degrees=0, translate=(0.08, 0.05), scale=(2.0, 2.0))
    t.make_params = lambda flat: {
        "angle": 0.0,
        "translate": (4, -2),
        "scale": 2.0,
        "shear": (0.0, 0.0),
    }
    out, tgt = BoxAugment(t)(image, target)
    expected = [2 * (16 - 25) + 29, 2 * (12 - 20) + 18, 2 * (24 - 25) + 29, 2 * (18 - 20) + 18]
    assert tgt["boxes"].tolist() == [expected]
    assert bbox_of_ones(out) == expected
    assert tgt["area"].tolist() == [4 * 48.0]  # area scales with the box: x2 in each direction


def test_degenerate_boxes_are_removed_with_their_labels_and_extras():
    # shift everything 30 px right on a 50-px-wide canvas: box 2 leaves, box 1 keeps 4 px
    boxes = [[10, 5, 24, 15], [25, 5, 45, 30], [0, 0, 6, 6]]
    image, target = painted(boxes), target_of(boxes, [1, 2, 3])
    target["masks"] = tv_tensors.Mask(torch.stack([painted([b])[0] for b in boxes]).to(torch.uint8))
    t = v2.Compose([v2.RandomAffine(degrees=0, translate=(0.6, 0.0)), v2.ClampBoundingBoxes()])
    t.transforms[0].make_params = lambda flat: {
        "angle": 0.0, "translate": (30, 0), "scale": 1.0, "shear": (0.0, 0.0)
    }  # fmt: skip
    proposals = torch.tensor([[0.0, 0.0, 10.0, 10.0], [30.0, 0.0, 40.0, 10.0]])
    _out, tgt, (moved,) = BoxAugment(t, min_size=2.0).apply(image, target, [proposals])
    assert tgt["boxes"].tolist() == [[40, 5, 50, 15], [30, 0, 36, 6]]
    assert tgt["labels"].tolist() == [1, 3]  # box 2 (label 2) is gone, the rest stay aligned
    assert tgt["iscrowd"].tolist() == [0, 0] and tgt["masks"].shape == (2, 40, 50)
    assert tgt["area"].tolist() == [140 * (10 * 10) / (14 * 10), 36.0]  # clipped: area shrinks
    for box, mask in zip(tgt["boxes"].int().tolist(), tgt["masks"]):
        assert bbox_of_ones(mask[None].float()) == box  # each mask still matches its box
    assert moved.tolist() == [[30.0, 0.0, 40.0, 10.0]]  # the second proposal left the image
    assert tgt["labels"].dtype == torch.int64


def test_min_size_drops_thin_boxes():
    boxes = [[5, 5, 6, 20], [10, 10, 30, 30]]  # the first is 1 px wide
    _, tgt = BoxAugment(v2.Identity(), min_size=2)(painted(boxes), target_of(boxes, [4, 5]))
    assert tgt["labels"].tolist() == [5]
    _, tgt = BoxAugment(v2.Identity(), min_size=1)(painted(boxes), target_of(boxes, [4, 5]))
    assert tgt["labels"].tolist() == [4, 5]


def test_random_pipeline_keeps_labels_aligned_with_the_objects():
    # each object is painted in its own colour = its label, so after any transform the colour
    # inside a surviving box must be that box's label
    torch.manual_seed(0)
    aug = BoxAugment(box_augmentation(photometric=0.0, scale=(0.6, 1.4), translate=0.3))
    boxes = [[2, 2, 12, 12], [20, 4, 34, 18], [36, 20, 48, 36], [8, 24, 20, 38]]
    image = torch.zeros(3, 40, 50)
    for k, (x1, y1, x2, y2) in enumerate(boxes, start=1):
        image[:, y1:y2, x1:x2] = k / 10
    dropped = 0
    for _ in range(40):
        out, tgt = aug(image, target_of(boxes, [1, 2, 3, 4]))
        dropped += 4 - len(tgt["labels"])
        for box, label in zip(tgt["boxes"].tolist(), tgt["labels"].tolist()):
            x1, y1, x2, y2 = (round(v) for v in box)
            patch = out[0, y1 + 1 : y2 - 1, x1 + 1 : x2 - 1]
            if patch.numel():
                values = (patch * 10).round().flatten()
                assert (values == label).float().mean() > 0.5, (box, label)
            assert 0 <= x1 < x2 <= 50 and 0 <= y1 < y2 <= 40
    assert dropped > 0  # translate 0.3 does push some objects out


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hflip"):
        box_augmentation(hflip=1.5)
    with pytest.raises(ValueError, match="scale\\[1\\]"):
        box_augmentation(scale=(1.2, 0.8))
    with pytest.raises(TypeError, match="scale must be a"):
        box_augmentation(scale=1.0)
    with pytest.raises(ValueError, match="translate"):
        box_augmentation(translate=1.0)
    with pytest.raises(ValueError, match="min_size"):
        BoxAugment(v2.Identity(), min_size=0.5)
    with pytest.raises(TypeError, match="transform must be callable"):
        BoxAugment("flip")
    aug = BoxAugment(v2.Identity())
    with pytest.raises(ValueError, match="image must be a C x H x W"):
        aug(torch.zeros(8, 8), target_of([[0, 0, 2, 2]], [1]))
    with pytest.raises(ValueError, match="N x 4"):
        aug(torch.zeros(3, 8, 8), {"boxes": torch.zeros(3), "labels": torch.zeros(3)})
    with pytest.raises(ValueError, match="one label per box"):
        aug(torch.zeros(3, 8, 8), {"boxes": torch.zeros(2, 4), "labels": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"extra_boxes\[0\]"):
        aug.apply(torch.zeros(3, 8, 8), target_of([[0, 0, 2, 2]], [1]), [torch.zeros(4)])
    with pytest.raises(ValueError, match="scale"):
        Augmentation(scale=(1.2, 0.9))
    with pytest.raises(TypeError, match="augmentation must be an Augmentation"):
        box_augment({"hflip": 0.5})


def test_proposal_augment_moves_and_remembers_the_proposals():
    calls = []

    def fake_search(arr):  # one proposal on the left half of whatever image it sees
        calls.append(arr.shape)
        return np.array([[2, 4, 10, 12]])

    cache = ProposalCache(fake_search)
    image, target = painted([[2, 4, 10, 12]]), target_of([[2, 4, 10, 12]], [3])
    flip = ProposalAugment(BoxAugment(v2.RandomHorizontalFlip(p=1.0)), cache)
    out, tgt = flip(image, target)
    assert len(calls) == 1  # computed for the original image only
    assert cache(out).tolist() == [[50 - 10, 4, 50 - 2, 12]]  # the flipped image: flipped boxes
    assert len(calls) == 1 and tgt["boxes"].tolist() == [[40, 4, 48, 12]]
    with pytest.raises(TypeError, match="proposals must be a ProposalCache"):
        ProposalAugment(BoxAugment(v2.Identity()), lambda im: im)


def test_shapes_loaders_augment_the_training_split_only():
    data = ShapesData(n_train=4, n_val=2, image_size=32, batch_size=4, val_batch_size=2)
    flip_all = box_augment(Augmentation(hflip=1.0, photometric=0.0, scale=(1, 1), translate=0))
    plain_train, plain_val = shapes_loaders(data, seed=0)
    train, val = shapes_loaders(data, seed=0, augment=flip_all)
    assert isinstance(train.dataset, AugmentedDataset)
    (images, targets), (plain_images, plain_targets) = next(iter(train)), next(iter(plain_train))
    for img, tgt, pimg, ptgt in zip(images, targets, plain_images, plain_targets):
        assert torch.equal(img, pimg.flip(-1))
        flipped = ptgt["boxes"].clone()
        flipped[:, [0, 2]] = 32 - ptgt["boxes"][:, [2, 0]]
        assert torch.equal(
            tgt["boxes"].as_subclass(torch.Tensor), flipped.as_subclass(torch.Tensor)
        )
        assert torch.equal(tgt["labels"], ptgt["labels"])
    assert torch.equal(next(iter(val))[0][0], next(iter(plain_val))[0][0])  # val untouched
    with pytest.raises(TypeError, match="augment must be callable"):
        AugmentedDataset([], "flip")
