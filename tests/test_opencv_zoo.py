"""dlcv_utils.models.opencv_zoo: download + cache + load, against a loopback HTTP server.

The ONNX route is tested end to end with a tiny ONNX model written here. The TensorFlow route
(a frozen ``.pb`` in a ``.tar.gz`` plus a ``.pbtxt``) is tested for download, extraction and
caching only: writing a frozen TensorFlow graph needs TensorFlow, and opencv-python 5.x has no
TensorFlow importer in Python to load it with anyway.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socketserver
import tarfile
import threading
from pathlib import Path

import pytest
import torch

from dlcv_utils.models.opencv_zoo import (
    MODELS,
    ModelUnavailableError,
    ZooFile,
    ZooModel,
    fetch_model,
    load_net,
)


class _Server:
    def __init__(self, files: dict[str, bytes]):
        self.files, self.hits = files, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.hits.append(self.path)
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tiny_onnx() -> bytes:
    buf = io.BytesIO()
    conv = torch.nn.Conv2d(3, 2, 1)
    torch.manual_seed(0)
    torch.nn.init.normal_(conv.weight)
    torch.onnx.export(conv.eval(), (torch.zeros(1, 3, 4, 4),), buf, opset_version=17, dynamo=False)
    return buf.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def served():
    onnx_bytes = _tiny_onnx()
    files = {
        "/m/tiny.onnx": onnx_bytes,
        "/tf/ssd.tar.gz": _tar({"ssd/frozen_inference_graph.pb": b"\x0a\x00fake-graph"}),
        "/tf/ssd.pbtxt": b'node { name: "image_tensor" op: "Placeholder" }\n',
    }
    s = _Server(files)
    yield s, onnx_bytes
    s.close()


def test_onnx_model_downloads_once_and_loads(served, tmp_path):
    cv2 = pytest.importorskip("cv2")
    server, onnx_bytes = served
    zm = ZooModel("tiny", "onnx", ZooFile(server.url + "/m/tiny.onnx", "tiny.onnx",
                  sha256=hashlib.sha256(onnx_bytes).hexdigest()), input_size=(4, 4))  # fmt: skip
    paths = fetch_model(zm, tmp_path, progress=False)
    assert paths["model"] == tmp_path / "tiny" / "tiny.onnx" and paths["config"] is None
    assert paths["model"].read_bytes() == onnx_bytes
    net = load_net(zm, tmp_path, progress=False)
    x = torch.rand(1, 3, 4, 4)
    net.setInput(x.numpy())
    assert net.forward().shape == (1, 2, 4, 4)
    fetch_model(zm, tmp_path, progress=False)  # cached: no new request
    assert server.hits == ["/m/tiny.onnx"]
    assert cv2 is not None


def test_tensorflow_archive_is_extracted_and_cached(served, tmp_path):
    server, _ = served
    zm = ZooModel(
        "tf", "tensorflow",
        ZooFile(server.url + "/tf/ssd.tar.gz", "ssd.tar.gz", member="ssd/frozen_inference_graph.pb"),
        ZooFile(server.url + "/tf/ssd.pbtxt", "ssd.pbtxt"),
    )  # fmt: skip
    paths = fetch_model(zm, tmp_path, progress=False)
    assert paths["model"] == tmp_path / "tf" / "ssd" / "frozen_inference_graph.pb"
    assert paths["model"].read_bytes() == b"\x0a\x00fake-graph"
    assert paths["config"].read_text().startswith("node {")
    fetch_model(zm, tmp_path, progress=False)
    assert sorted(server.hits) == ["/tf/ssd.pbtxt", "/tf/ssd.tar.gz"]
    # a fake graph cannot load: the error names the model and the OpenCV version
    with pytest.raises(ModelUnavailableError, match=r"OpenCV .* cannot load tf \(tensorflow\)"):
        load_net(zm, tmp_path, progress=False)


def test_wrong_checksum_removes_the_file(served, tmp_path):
    server, _ = served
    zm = ZooModel("bad", "onnx", ZooFile(server.url + "/m/tiny.onnx", "tiny.onnx", sha256="0" * 64))
    with pytest.raises(ModelUnavailableError, match="sha256 .* differs from the expected 0000"):
        fetch_model(zm, tmp_path, progress=False)
    assert not (tmp_path / "bad" / "tiny.onnx").exists()


def test_missing_member_and_missing_file(served, tmp_path):
    server, _ = served
    zm = ZooModel(
        "m", "tensorflow", ZooFile(server.url + "/tf/ssd.tar.gz", "ssd.tar.gz", member="nope.pb")
    )
    with pytest.raises(ModelUnavailableError, match="has no member 'nope.pb'"):
        fetch_model(zm, tmp_path, progress=False)
    gone = ZooModel("g", "onnx", ZooFile(server.url + "/m/none.onnx", "none.onnx"))
    with pytest.raises(ModelUnavailableError, match="cannot download"):
        fetch_model(gone, tmp_path, progress=False, timeout=5)


def test_offline_cache_only_and_bad_names(tmp_path):
    with pytest.raises(ModelUnavailableError, match="allow_download=False"):
        fetch_model("nanodet_plus_zoo", tmp_path, allow_download=False)
    assert not (tmp_path / "nanodet_plus_zoo").exists()
    with pytest.raises(ValueError, match="model must be one of"):
        fetch_model("yolo9000", tmp_path)
    with pytest.raises(TypeError, match="model must be a name or a ZooModel"):
        fetch_model(3, tmp_path)


def test_registry_is_consistent():
    for name, zm in MODELS.items():
        assert zm.name == name and zm.framework in ("onnx", "tensorflow")
        assert (zm.config is not None) == (zm.framework == "tensorflow")
        for zf in (zm.model, zm.config):
            if zf is not None:
                assert zf.url.startswith(("http://", "https://")) and zf.url.endswith(
                    Path(zf.filename).name
                )


def test_default_cache_dir_follows_runtime(tmp_path, monkeypatch):
    from dlcv_utils.models.opencv_zoo import default_cache_dir
    from dlcv_utils.runtime import CACHE_ENV, cache_dir

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "opencv_zoo" == cache_dir() / "opencv_zoo"
