"""Tests for the single-shot detector (lesson 07): shapes, decoding arithmetic, training, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcv_utils.models.single_shot import RawHead, SingleShotDetector, decode_detections
from dlcv_utils.ops.anchors import generate_anchors


def _model(**kw):
    torch.manual_seed(0)
    return SingleShotDetector(4, width=4, image_size=32, **kw)


def test_raw_shapes_follow_the_anchor_order():
    model = _model().eval()
    logits, deltas = model.forward_raw(torch.zeros(2, 3, 32, 32))
    cells = 32 // 8
    assert model.num_anchors == cells * cells * 9
    assert logits.shape == (2, cells * cells * 9, 3) and deltas.shape == (2, cells * cells * 9, 4)
    torch.testing.assert_close(model.anchors, generate_anchors(cells, 8, (16, 32, 64)))


def test_raw_row_is_cell_then_anchor():
    """Row l = (i * w + j) * A + a must read channel a of cell (i, j) of the 1x1 convs."""
    model = _model().eval()
    x = torch.randn(1, 3, 32, 32)
    logits, deltas = model.forward_raw(x)
    f = model.head(model.backbone(x))
    cls_map = model.cls_logits(f)[0]  # [A * K, h, w], channel a * K + k
    box_map = model.bbox_pred(f)[0]  # [A * 4, h, w]
    i, j, a, k, w = 2, 1, 5, 2, 4
    row = (i * w + j) * 9 + a
    torch.testing.assert_close(logits[0, row, k], cls_map[a * 3 + k, i, j])
    torch.testing.assert_close(deltas[0, row], box_map[a * 4 : a * 4 + 4, i, j])


def test_normalize_matches_blob_params():
    cv2 = pytest.importorskip("cv2")
    model = _model()
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    blob = cv2.dnn.blobFromImage(rgb[..., ::-1].copy(), **model.blob_params())
    ours = model.normalize([torch.from_numpy(rgb).permute(2, 0, 1).float() / 255])
    torch.testing.assert_close(torch.from_numpy(blob), ours, atol=1e-4, rtol=0)
    assert float(ours.max()) <= (255 - 127.5) / 64 + 1e-6


def test_decode_by_hand():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 30.0]])
    logits = torch.tensor([[[-9.0, -9.0], [-9.0, 1.0]]])  # anchor 1, class 2
    deltas = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.5, -1.0, math.log(2.0), 0.0]]])
    out = decode_detections(logits, deltas, anchors, (100, 100), score_thresh=0.5)[0]
    # centre (30, 25) + (0.5 * 20, -1 * 10) = (40, 15); size (20 * 2, 10) = (40, 10)
    torch.testing.assert_close(out["boxes"], torch.tensor([[20.0, 10.0, 60.0, 20.0]]))
    assert out["labels"].tolist() == [2]
    assert out["scores"].item() == pytest.approx(1 / (1 + math.exp(-1.0)))


def test_decode_clips_nms_and_limits():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0], [-5.0, -5.0, 5.0, 5.0]])
    logits = torch.tensor([[3.0], [2.0], [1.0]])  # [L, K] form, one image
    out = decode_detections(logits, torch.zeros(3, 4), anchors, (8, 8), score_thresh=0.5)[0]
    # boxes 0 and 1 overlap with IoU 81/119 > 0.5 -> 1 suppressed; all clipped to 8 x 8
    assert out["boxes"].tolist() == [[0.0, 0.0, 8.0, 8.0], [0.0, 0.0, 5.0, 5.0]]
    none = decode_detections(logits, torch.zeros(3, 4), anchors, (8, 8), nms_thresh=1.0)[0]
    assert len(none["boxes"]) == 3
    top1 = decode_detections(logits, torch.zeros(3, 4), anchors, (8, 8), detections_per_img=1)[0]
    assert top1["scores"].tolist() == pytest.approx([1 / (1 + math.exp(-3.0))])
    empty = decode_detections(logits - 20, torch.zeros(3, 4), anchors, (8, 8))[0]
    assert empty["boxes"].shape == (0, 4)


def test_decode_rejects_bad_input():
    anchors = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="box_deltas must have shape"):
        decode_detections(torch.zeros(1, 3, 2), torch.zeros(1, 2, 4), anchors, (8, 8))
    with pytest.raises(ValueError, match="anchors must have shape"):
        decode_detections(torch.zeros(1, 3, 2), torch.zeros(1, 3, 4), torch.zeros(2, 4), (8, 8))
    with pytest.raises(ValueError, match="class_logits must have shape"):
        decode_detections(torch.zeros(3), torch.zeros(3, 4), anchors, (8, 8))
    with pytest.raises(ValueError, match="score_thresh"):
        decode_detections(torch.zeros(3, 2), torch.zeros(3, 4), anchors, (8, 8), score_thresh=2)
    with pytest.raises(TypeError, match="class_logits must be a tensor"):
        decode_detections("x", torch.zeros(3, 4), anchors, (8, 8))


def test_constructor_and_input_validation():
    with pytest.raises(ValueError, match="num_classes"):
        SingleShotDetector(1)
    with pytest.raises(ValueError, match="pixel_mean must have 3 values"):
        SingleShotDetector(3, pixel_mean=(1.0,))
    with pytest.raises(ValueError, match="neg_iou <= pos_iou"):
        SingleShotDetector(3, pos_iou=0.3, neg_iou=0.5)
    model = _model()
    with pytest.raises(ValueError, match="must be 32 x 32"):
        model.normalize([torch.zeros(3, 16, 16)])
    with pytest.raises(ValueError, match="targets must be given"):
        model.train()([torch.zeros(3, 32, 32)])
    with pytest.raises(TypeError, match="detector must be a SingleShotDetector"):
        RawHead(torch.nn.Identity())


def test_losses_and_a_few_steps_learn_one_image():
    model = _model()
    image = torch.zeros(3, 32, 32)
    image[:, 8:24, 8:24] = 1.0
    target = {"boxes": torch.tensor([[8.0, 8.0, 24.0, 24.0]]), "labels": torch.tensor([2])}
    losses = model.train()([image], [target])
    assert set(losses) == {"loss_cls", "loss_box"} and all(v.ndim == 0 for v in losses.values())
    empty = model(
        [image], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    )
    assert empty["loss_box"].item() == 0.0 and empty["loss_cls"].item() > 0
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = sum(model([image], [target]).values())
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 3
    det = model.eval()([image])[0]
    assert det["labels"][0].item() == 2
    from torchvision.ops import box_iou

    assert box_iou(det["boxes"][:1], target["boxes"]).item() > 0.5


def test_onnx_export_matches_in_onnxruntime_and_opencv(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    cv2 = pytest.importorskip("cv2")
    model = _model().eval()
    path = tmp_path / "ss.onnx"
    torch.onnx.export(
        RawHead(model).eval(), (torch.zeros(1, 3, 32, 32),), str(path),
        input_names=["image"], output_names=["class_logits", "box_deltas"],
        opset_version=17, dynamo=False,
    )  # fmt: skip
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = [t.numpy() for t in model.forward_raw(x)]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"image": x.numpy()}
    )
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(x.numpy())
    cv_out = net.forward(["class_logits", "box_deltas"])
    for g, c, r in zip(got, cv_out, ref):
        assert np.abs(g - r).max() < 1e-4 and np.abs(c.reshape(r.shape) - r).max() < 1e-4
