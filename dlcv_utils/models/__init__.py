"""Detector families, built from :mod:`dlcv_utils.ops` and one shared :mod:`.backbones` module.

Modules:
    backbones: the tiny from-scratch CNNs and the torchvision trunks every family uses.
    rcnn: R-CNN and Fast R-CNN (lesson 04).
    faster_rcnn: Faster R-CNN on a tiny or torchvision backbone, COCO weights (lesson 05).
    finetune: a COCO-pretrained Faster R-CNN with a new box predictor, fine-tuned on
        Penn-Fudan (lesson 05).
    fpn: the feature pyramid network (lesson 06).
    single_shot: a single-shot detector whose raw head exports to ONNX, and its decoder
        (lesson 07).
    opencv_zoo: download, cache and load pretrained detectors for OpenCV DNN (lesson 07).

Model modules know nothing about lessons or settings: the lesson recipes that train them live in
:mod:`dlcv_utils.course.recipes`.
"""
