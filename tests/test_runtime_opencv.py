"""silence_opencv_logging works with OpenCV 5's cv2.utils.logging and 4.x's cv2.setLogLevel."""

import sys
import types

from dlcv_utils.runtime import silence_opencv_logging


def test_opencv4_style_set_log_level(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(setLogLevel=calls.append)  # OpenCV 4.12: no cv2.utils.logging
    monkeypatch.setitem(sys.modules, "cv2", fake)
    silence_opencv_logging()
    assert calls == [0]


def test_opencv5_style_logging_module(monkeypatch):
    calls = []
    logging = types.SimpleNamespace(setLogLevel=calls.append, LOG_LEVEL_SILENT=0)
    fake = types.SimpleNamespace(utils=types.SimpleNamespace(logging=logging))
    monkeypatch.setitem(sys.modules, "cv2", fake)
    silence_opencv_logging()
    assert calls == [0]


def test_no_logger_at_all_is_a_no_op(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", types.SimpleNamespace())
    silence_opencv_logging()  # nothing to call, nothing raised


def test_real_opencv():
    silence_opencv_logging()
