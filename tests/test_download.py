"""download() and safe_extract() against a loopback HTTP server serving archives built here."""

from __future__ import annotations

import hashlib
import http.server
import io
import socketserver
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from dlcv_utils.datasets import (
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    download,
    safe_extract,
)
from dlcv_utils.datasets.download import REGISTRY, DatasetSource, RemoteFile, download_file


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
            else:
                tf.addfile(m)
    return buf.getvalue()


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


class _Server:
    """Serves ``files`` (path -> bytes) with Range support; ``truncate`` paths stop halfway."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.ignore_range = False
        self.bad_length: set[str] = set()  # paths answered with "Content-Length: abc"
        self.drip: set[str] = set()  # paths sent one small chunk at a time, slowly
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                rng = self.headers.get("Range")
                owner.requests.append((path, rng))
                if path not in owner.files:
                    self.send_error(404)
                    return
                data = owner.files[path]
                start = 0
                if rng and not owner.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                bad = path in owner.bad_length
                self.send_header("Content-Length", "abc" if bad else str(len(body)))
                self.end_headers()
                if path in owner.drip:
                    for i in range(0, len(body), 64):
                        try:
                            self.wfile.write(body[i : i + 64])
                            self.wfile.flush()
                        except OSError:  # the client gave up
                            return
                        time.sleep(0.02)
                    return
                if path in owner.truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _registry(path: str, data: bytes, **kw) -> dict[str, DatasetSource]:
    md5 = kw.pop("md5", hashlib.md5(data).hexdigest())
    return {"tiny": DatasetSource("http://unused.invalid/", (RemoteFile(path, md5=md5, **kw),))}


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


PAYLOAD = {"tiny/a.txt": b"hello " * 3000, "tiny/sub/b.txt": b"world"}


def test_registry_has_the_four_datasets_with_real_urls():
    assert sorted(REGISTRY) == ["coco2017-val", "pennfudan", "voc2007", "voc2012"]
    voc = REGISTRY["voc2012"].files[0]
    assert voc.md5 == "6cd6e144f989b92b3379bac3b3de84fd"
    assert REGISTRY["coco2017-val"].base_url == "http://images.cocodataset.org/"
    # a checksum is either a real hex digest or absent (never a placeholder)
    for src in REGISTRY.values():
        for rf in src.files:
            assert rf.md5 is None or len(rf.md5) == 32


def test_download_extract_and_cache(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["d/tiny.zip"] = data
    reg = _registry("d/tiny.zip", data)
    out = download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert out == tmp_path / "tiny"
    assert (out / "tiny/a.txt").read_bytes() == PAYLOAD["tiny/a.txt"]
    assert (out / "tiny/sub/b.txt").read_bytes() == b"world"
    assert not (out / "tiny.zip").exists()  # archive removed after extraction
    assert len(server.requests) == 1
    # second call: cached, no request at all (works offline)
    server.close()
    assert download("tiny", tmp_path, mirror="http://127.0.0.1:9", registry=reg) == out
    assert len(server.requests) == 1


def test_mirror_from_environment(server, tmp_path, monkeypatch):
    data = _tar_bytes([("t/x.txt", b"x")])
    server.files["tiny.tar"] = data
    monkeypatch.setenv("DLCV_MIRROR", server.url + "/")
    out = download("tiny", tmp_path, registry=_registry("tiny.tar", data), progress=False)
    assert (out / "t/x.txt").read_bytes() == b"x"


def test_resume_from_part_file_uses_range(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    target = tmp_path / "tiny"
    target.mkdir()
    (target / "tiny.zip.part").write_bytes(data[:1000])  # an earlier, interrupted download
    download(
        "tiny", tmp_path, mirror=server.url, registry=_registry("tiny.zip", data), progress=False
    )
    assert server.requests == [("tiny.zip", "bytes=1000-")]
    assert (target / "tiny/a.txt").read_bytes() == PAYLOAD["tiny/a.txt"]
    assert not (target / "tiny.zip.part").exists()


def test_complete_part_file_gets_416_and_is_used(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "tiny.zip.part").write_bytes(data)
    download(
        "tiny", tmp_path, mirror=server.url, registry=_registry("tiny.zip", data), progress=False
    )
    assert (tmp_path / "tiny/tiny/sub/b.txt").read_bytes() == b"world"


def test_truncated_download_is_a_clear_error_then_resumes(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    server.truncate.add("tiny.zip")
    reg = _registry("tiny.zip", data)
    with pytest.raises(DownloadError, match=r"truncated download .* closed after \d+ of \d+ bytes"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    target = tmp_path / "tiny"
    assert _tree(target) == ["tiny.zip.part"]  # nothing extracted; the part is kept
    part_size = (target / "tiny.zip.part").stat().st_size
    assert 0 < part_size < len(data)
    server.truncate.clear()
    download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert server.requests[-1] == ("tiny.zip", f"bytes={part_size}-")
    assert (target / "tiny/a.txt").read_bytes() == PAYLOAD["tiny/a.txt"]


def test_checksum_mismatch_deletes_and_extracts_nothing(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    reg = _registry("tiny.zip", data, md5="0" * 32)
    with pytest.raises(ChecksumError, match="md5 checksum mismatch: expected 0{32}, got"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert _tree(tmp_path / "tiny") == []


def test_sha256_and_size_checked(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    good = hashlib.sha256(data).hexdigest()
    reg = {"tiny": DatasetSource("", (RemoteFile("tiny.zip", sha256=good, size=len(data)),))}
    download("tiny", tmp_path / "ok", mirror=server.url, registry=reg, progress=False)
    bad = {"tiny": DatasetSource("", (RemoteFile("tiny.zip", size=len(data) + 1),))}
    with pytest.raises(ChecksumError, match=r"size \d+ bytes, expected \d+"):
        download("tiny", tmp_path / "bad", mirror=server.url, registry=bad, progress=False)
    assert _tree(tmp_path / "bad" / "tiny") == []


def test_unverified_file_warns(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    reg = {"tiny": DatasetSource("", (RemoteFile("tiny.zip"),))}
    with pytest.warns(UserWarning, match="not verified"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)


def test_http_404_is_a_clear_error(server, tmp_path):
    reg = _registry("missing.zip", b"")
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)


def test_unknown_name():
    with pytest.raises(ValueError, match="name must be one of .* got 'nope'"):
        download("nope", "/tmp")


def test_malicious_zip_downloaded_is_refused_and_target_clean(server, tmp_path):
    data = _zip_bytes({"ok.txt": b"fine", "../../escape.txt": b"evil"})
    server.files["evil.zip"] = data
    with pytest.raises(UnsafeArchiveError, match=r"'\.\./\.\./escape\.txt' contains '\.\.'"):
        download(
            "tiny",
            tmp_path,
            mirror=server.url,
            registry=_registry("evil.zip", data),
            progress=False,
        )
    assert not (tmp_path / "escape.txt").exists()
    assert _tree(tmp_path / "tiny") == []  # nothing extracted, the archive deleted


# ---------------------------------------------------------------------------- safe_extract


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([("ok.txt", b"1"), ("../evil.txt", b"x")], "contains '..'"),
        ([("ok.txt", b"1"), ("a/../../evil.txt", b"x")], "contains '..'"),
        ([("/tmp/evil_abs.txt", b"x")], "absolute path"),
        ([_link("link", "../outside")], "escapes"),
        ([_link("link", "/etc/passwd")], "absolute path"),
        ([("sub/ok.txt", b"1"), _link("sub/l", "../../x")], "escapes"),
        ([("ok.txt", b"1"), _link("hard", "../x", tarfile.LNKTYPE)], "escapes"),
        ([_link("dev", "", tarfile.CHRTYPE)], "device or fifo"),
    ],
)
def test_safe_extract_refuses_bad_tar(tmp_path, members, match):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes(members))
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=match):
        safe_extract(archive, dest)
    assert _tree(dest) == []  # validated before writing anything
    assert _tree(tmp_path) == ["evil.tar", "out"]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", "contains '..'"),
        ("/abs.txt", "absolute path"),
        ("C:/x.txt", "absolute path"),
        ("a\\..\\..\\x.txt", "contains '..'"),
    ],
)
def test_safe_extract_refuses_bad_zip(tmp_path, name, match):
    archive = tmp_path / "evil.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("first_ok.txt", b"1")
        zf.writestr(zipfile.ZipInfo(name), b"x")
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=match):
        safe_extract(archive, dest)
    assert _tree(dest) == []


def test_safe_extract_refuses_zip_symlink_escaping(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "../../etc")
    (tmp_path / "l.zip").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="escapes"):
        safe_extract(tmp_path / "l.zip", tmp_path / "out")
    assert _tree(tmp_path / "out") == []


def test_safe_extract_good_tar_with_inner_link_and_gz(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("d/a.txt", b"A"), ("d/b.txt", b"B")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        tf.addfile(_link("d/link", "a.txt"))
    (tmp_path / "ok.tar.gz").write_bytes(buf.getvalue())
    dest = safe_extract(tmp_path / "ok.tar.gz", tmp_path / "out")
    assert _tree(dest) == ["d", "d/a.txt", "d/b.txt", "d/link"]
    assert (dest / "d/link").read_bytes() == b"A"
    # extracting again overwrites in place (idempotent), no temp folder left over
    safe_extract(tmp_path / "ok.tar.gz", dest)
    assert _tree(dest) == ["d", "d/a.txt", "d/b.txt", "d/link"]


def test_safe_extract_not_an_archive(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(tmp_path / "x.bin", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="archive: no such file"):
        safe_extract(tmp_path / "missing.zip", tmp_path / "out")


def test_download_file_unreachable(tmp_path):
    with pytest.raises(DownloadError, match="cannot download"):
        download_file("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", progress=False)
    assert _tree(tmp_path) == []


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    server.ignore_range = True
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "tiny.zip.part").write_bytes(b"garbage that must not be kept")
    download(
        "tiny", tmp_path, mirror=server.url, registry=_registry("tiny.zip", data), progress=False
    )
    assert server.requests[0][1] is not None  # we asked for a range, got the whole file
    assert (tmp_path / "tiny/tiny/a.txt").read_bytes() == PAYLOAD["tiny/a.txt"]


def test_malicious_tar_with_escaping_symlink_via_download(server, tmp_path):
    data = _tar_bytes([("d/ok.txt", b"1"), _link("d/evil", "../../../../etc/passwd")])
    server.files["evil.tar"] = data
    reg = _registry("evil.tar", data)
    with pytest.raises(UnsafeArchiveError, match="escapes"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert _tree(tmp_path) == ["tiny"]


# ------------------------------------------------------------------ issue 8: hostile servers


def test_bad_content_length_is_a_clear_error(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    server.bad_length.add("tiny.zip")
    with pytest.raises(DownloadError, match="bad Content-Length header 'abc'"):
        download_file(f"{server.url}/tiny.zip", tmp_path / "t.zip", progress=False)


def test_slow_drip_hits_max_seconds_then_resumes(server, tmp_path):
    data = _zip_bytes(PAYLOAD)
    server.files["tiny.zip"] = data
    server.drip.add("tiny.zip")
    reg = _registry("tiny.zip", data)
    with pytest.raises(DownloadError, match="took longer than max_seconds=0.2"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False,
                 max_seconds=0.2)  # fmt: skip
    part = tmp_path / "tiny" / "tiny.zip.part"
    assert 0 < part.stat().st_size < len(data)  # kept for resuming
    server.drip.clear()
    out = download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert (out / "tiny/a.txt").read_bytes() == PAYLOAD["tiny/a.txt"]
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        download_file(server.url, tmp_path / "x", timeout=0)


def test_html_or_truncated_archive_is_not_kept_cached(server, tmp_path):
    html = b"<html><body>Service unavailable</body></html>"
    server.files["tiny.tar"] = html
    reg = {"tiny": DatasetSource("http://unused.invalid/", (RemoteFile("tiny.tar"),))}
    with (
        pytest.warns(UserWarning, match="not verified"),
        pytest.raises(ValueError, match="neither a zip nor a tar.*deleted, run again"),
    ):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert _tree(tmp_path / "tiny") == []
    tar = _tar_bytes([("tiny/a.txt", b"A" * 4000), ("tiny/b.txt", b"B" * 4000)])
    server.files["tiny.tar"] = tar[:3000]  # a truncated tar: a clear error, not ReadError
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="truncated or corrupt"):
        download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert _tree(tmp_path / "tiny") == []
    server.files["tiny.tar"] = tar  # fixed upstream: the next call downloads it again
    with pytest.warns(UserWarning):
        out = download("tiny", tmp_path, mirror=server.url, registry=reg, progress=False)
    assert (out / "tiny/b.txt").read_bytes() == b"B" * 4000


def test_cli_download_takes_timeouts(server, tmp_path, capsys):
    from dlcv_utils.datasets.cli import build_parser

    args = build_parser().parse_args(
        ["download", "voc2007", str(tmp_path), "--timeout", "5", "--max-seconds", "30"]
    )
    assert (args.timeout, args.max_seconds) == (5.0, 30.0)


def test_tar_cut_inside_a_header_is_refused(tmp_path):
    tar = _tar_bytes([("a.txt", b"A" * 4000), ("b.txt", b"B" * 4000)])
    (tmp_path / "t.tar").write_bytes(tar[:5000])  # tarfile alone would stop quietly after a.txt
    with pytest.raises(ValueError, match="t.tar: truncated or corrupt"):
        safe_extract(tmp_path / "t.tar", tmp_path / "out")
    assert _tree(tmp_path / "out") == []
