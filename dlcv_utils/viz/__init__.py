"""Pictures: plotting, video and notebook widgets (the layer just below :mod:`dlcv_utils.course`).

Modules:
    plotting: images with boxes, masks and labels, PR curves, grids, diagrams (lesson 01 on).
    video: read and write videos with OpenCV, the moving-shapes clip (lesson 02).
    evaluation: TP / FP / FN drawings, the detection confusion matrix and AP per class of a
        trained detector (lessons 04, 05, 06).
    widgets: interactive panels; each is a pure ``*_panel`` function plus a thin ``make_*``
        helper that wires it to ipywidgets (lessons 01, 02, 03, 04, 05, 06, 07).
"""
