#!/usr/bin/env bash
# Check the course on OpenCV 4.x (the package allows opencv >= 4.8; the course installs 5.x).
# Makes a virtual environment on top of the current one (system site packages: torch, the
# package, the test tools), puts the newest OpenCV 4.x wheel in it, and runs the OpenCV-facing
# unit tests and the nbval of the two OpenCV lessons (02 and 07: cv2.dnn, VideoCapture/Writer,
# drawing, blobFromImage, NMSBoxes) with that cv2.
#
# usage: bash scripts/check_opencv4.sh [VENV_DIR]       (default: build/cv4-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-build/cv4-venv}"
python -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q "opencv-python-headless>=4.8,<5"
"$venv/bin/python" -c "import cv2, sys; assert cv2.__version__.startswith('4.'), cv2.__version__; print('cv2', cv2.__version__, 'in', sys.prefix)"
export OMP_NUM_THREADS=1 TQDM_DISABLE=1
"$venv/bin/python" -m pytest -n 0 -q -p no:cacheprovider -o addopts="" \
  tests/test_runtime_opencv.py tests/test_video.py tests/test_proposals.py \
  tests/test_selective_search.py tests/test_single_shot.py tests/test_opencv_zoo.py \
  tests/test_datasets_formats.py tests/test_plotting.py tests/test_shapes.py tests/test_photos.py \
  tests/test_widgets_dnn.py tests/test_mask_rcnn.py
"$venv/bin/python" -m pytest -n 0 -q -p no:cacheprovider -o addopts="" --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg \
  notebooks/02_opencv_datasets.ipynb notebooks/07_opencv_dnn.ipynb
