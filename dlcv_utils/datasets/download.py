"""Download and safely extract the public detection datasets (for Colab learners).

``download("voc2007" | "voc2012" | "coco2017-val" | "pennfudan", root)``:

* **progress bar** (``tqdm.auto``; ``TQDM_DISABLE=1`` silences it);
* **resumable**: bytes go to ``<file>.part``; a later call asks the server for the rest with an
  HTTP ``Range`` header;
* **checksum-verified** (md5 or sha256 from :data:`REGISTRY`); a mismatch deletes the download
  and extracts nothing;
* **cached**: a ``.<file>.done`` marker makes the second call return at once, offline;
* **safe extraction** (:func:`safe_extract`): absolute paths, ``..`` components and symbolic or
  hard links that leave the target are refused *before* anything is written; members are
  extracted into a temporary folder inside the target, then moved into place.

The server can be replaced (a mirror, or the loopback server of the tests) with the ``mirror``
argument or the ``$DLCV_MIRROR`` environment variable: each file is then fetched from
``<mirror>/<path>``, where ``path`` is the file's path in the registry.

Taught in lesson 02.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dlcv_utils.runtime import progress_disabled

__all__ = [
    "REGISTRY",
    "ChecksumError",
    "DatasetSource",
    "DownloadError",
    "RemoteFile",
    "UnsafeArchiveError",
    "download",
    "download_file",
    "file_checksum",
    "safe_extract",
]

MIRROR_ENV = "DLCV_MIRROR"
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download failed (HTTP error, connection closed early...)."""


class ChecksumError(ValueError):
    """The downloaded file's checksum differs from the registry's."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder (or is a device/link)."""


@dataclass(frozen=True)
class RemoteFile:
    """One archive of a dataset.

    Attributes:
        path: path relative to the base URL (also used under a mirror).
        md5: expected md5 hex digest, or ``None``.
        sha256: expected sha256 hex digest, or ``None``.
        size: expected size in bytes, or ``None``.
    """

    path: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class DatasetSource:
    """A downloadable dataset: base URL, its archives, and a note for the learner."""

    base_url: str
    files: tuple[RemoteFile, ...]
    note: str = ""


# Checksums: VOC md5s are the ones torchvision's datasets/voc.py verifies; the COCO 2017 md5s are
# the ones quoted in public download scripts (e.g. intel/neural-compressor's maskrcnn
# download_dataset.sh); cocodataset.org itself publishes none, so they could not be checked
# against the source here (a mismatch raises ChecksumError and says so);
# PennFudanPed.zip has no published checksum that we could confirm, so it is downloaded
# unverified (a warning says so) rather than with an invented hash.
REGISTRY: dict[str, DatasetSource] = {
    "voc2007": DatasetSource(
        "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/",
        (
            RemoteFile("VOCtrainval_06-Nov-2007.tar", md5="c52e279531787c972589f7e41ab4ae64"),
            RemoteFile("VOCtest_06-Nov-2007.tar", md5="b6e924de25625d8de591ea690078ad9f"),
        ),
        "PASCAL VOC 2007 trainval + test, ~870 MB; extracts to VOCdevkit/VOC2007.",
    ),
    "voc2012": DatasetSource(
        "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/",
        (RemoteFile("VOCtrainval_11-May-2012.tar", md5="6cd6e144f989b92b3379bac3b3de84fd"),),
        "PASCAL VOC 2012 trainval, ~2 GB; extracts to VOCdevkit/VOC2012.",
    ),
    "coco2017-val": DatasetSource(
        "http://images.cocodataset.org/",
        (
            RemoteFile("zips/val2017.zip", md5="442b8da7639aecaf257c1dceb8ba8c80"),
            RemoteFile(
                "annotations/annotations_trainval2017.zip", md5="f4bbac642086de4f52a3fdda2de5fa2c"
            ),
        ),
        "COCO 2017 val images (5000, ~780 MB) + train/val annotations (~240 MB).",
    ),
    "pennfudan": DatasetSource(
        "https://www.cis.upenn.edu/~jshi/ped_html/",
        (RemoteFile("PennFudanPed.zip"),),  # no confirmed checksum: not verified
        "Penn-Fudan pedestrians, 170 images with instance masks, ~50 MB.",
    ),
}


def file_checksum(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
        >>> _ = p.write_bytes(b"abc")
        >>> file_checksum(p, "md5")
        '900150983cd24fb0d6963f7d28e17f72'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, rf: RemoteFile) -> None:
    if rf.size is not None and path.stat().st_size != rf.size:
        raise ChecksumError(
            f"{rf.filename}: size {path.stat().st_size} bytes, expected {rf.size}; "
            "the download was deleted, run again"
        )
    for algo, expected in (("md5", rf.md5), ("sha256", rf.sha256)):
        if expected:
            got = file_checksum(path, algo)
            if got.lower() != expected.lower():
                raise ChecksumError(
                    f"{rf.filename}: {algo} checksum mismatch: expected {expected}, got {got}; "
                    "the download was deleted and nothing was extracted"
                )
    if not (rf.md5 or rf.sha256):
        warnings.warn(
            f"{rf.filename}: no checksum is known for this file, it was not verified",
            stacklevel=3,
        )


def _check_timeout(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    progress: bool = True,
    timeout: float = 60,
    max_seconds: float | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming from ``dest + ".part"`` when it exists.

    The bytes go to ``<dest>.part``; only a complete download is renamed to ``dest``.

    Args:
        url: what to fetch.
        dest: target file.
        progress: show a progress bar.
        timeout: seconds to wait for the connection and for each read.
        max_seconds: limit on the whole transfer (a server that drips bytes slowly never
            trips ``timeout``); ``None`` = no limit. The ``.part`` file is kept for resuming.

    Raises:
        DownloadError: HTTP error, unreachable server, a bad ``Content-Length`` header, a
            transfer slower than ``max_seconds``, or a connection closed before
            ``Content-Length`` bytes arrived (the ``.part`` file is kept for resuming).
        ValueError: ``timeout`` or ``max_seconds`` not a positive number.

    Example:
        >>> download_file("http://127.0.0.1:9/x", "/nonexistent/x", progress=False)
        Traceback (most recent call last):
        ...
        dlcv_utils.datasets.download.DownloadError: cannot download http://127.0.0.1:9/x: ...
    """
    from tqdm.auto import tqdm

    timeout = _check_timeout(timeout, "timeout")
    max_seconds = _check_timeout(max_seconds, "max_seconds", allow_none=True)
    started = time.monotonic()
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "dlcv-utils"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the .part is complete
            os.replace(part, dest)
            return dest
        raise DownloadError(f"cannot download {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"cannot download {url}: {err}") from err
    with resp:
        if have and resp.status != 206:  # server ignored the Range header: start again
            have = 0
        length = resp.headers.get("Content-Length")
        if length is not None and not length.strip().isdigit():
            raise DownloadError(f"cannot download {url}: bad Content-Length header {length!r}")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        part.parent.mkdir(parents=True, exist_ok=True)
        got = have
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=progress_disabled(progress),
            ) as bar,
        ):
            try:
                read = getattr(resp, "read1", resp.read)  # read1: whatever has arrived
                while chunk := read(CHUNK):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    if max_seconds is not None and time.monotonic() - started > max_seconds:
                        raise DownloadError(
                            f"download of {url} took longer than max_seconds={max_seconds:g} "
                            f"({got} of {total} bytes); call again to resume from {part.name}"
                        )
            except (http.client.IncompleteRead, OSError) as err:
                got = f.tell()
                raise DownloadError(
                    f"truncated download of {url}: the connection closed after {got} of "
                    f"{total} bytes; call again to resume from {part.name}"
                ) from err
    if total is not None and got < total:
        raise DownloadError(
            f"truncated download of {url}: the connection closed after {got} of {total} bytes; "
            f"call again to resume from {part.name}"
        )
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------
# safe extraction
# --------------------------------------------------------------------------------------------


def _check_name(name: str, dest: Path, what: str = "member") -> Path:
    if not name:
        raise UnsafeArchiveError(f"{what} with an empty name")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(f"{what} {name!r} has an absolute path: refused")
    if ".." in PurePosixPath(norm).parts:
        raise UnsafeArchiveError(f"{what} {name!r} contains '..': refused")
    target = (dest / norm).resolve()
    if target != dest and dest not in target.parents:
        raise UnsafeArchiveError(f"{what} {name!r} resolves outside {dest}: refused")
    return target


def _check_link(member: str, linkname: str, dest: Path, base: Path) -> None:
    norm = linkname.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(
            f"link {member!r} -> {linkname!r} points to an absolute path: refused"
        )
    target = (base / norm).resolve()
    if target != dest and dest not in target.parents:
        raise UnsafeArchiveError(f"link {member!r} -> {linkname!r} escapes {dest}: refused")


def _tar_members(tf: tarfile.TarFile, dest: Path, members=None) -> None:
    for m in tf.getmembers() if members is None else members:
        target = _check_name(m.name, dest)
        if m.issym():
            _check_link(m.name, m.linkname, dest, target.parent)
        elif m.islnk():
            _check_link(m.name, m.linkname, dest, dest)
        elif not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"member {m.name!r} is a device or fifo: refused")


def _zip_members(zf: zipfile.ZipFile, dest: Path) -> None:
    for info in zf.infolist():
        target = _check_name(info.filename, dest)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            _check_link(
                info.filename, zf.read(info).decode("utf-8", "replace"), dest, target.parent
            )


def _same_file(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    if not (a.is_file() and b.is_file()):
        return False
    if a.stat().st_size != b.stat().st_size:
        return False
    return file_checksum(a, "sha256") == file_checksum(b, "sha256")


def _conflicts(src: Path, dst: Path, rel: str = "") -> list[str]:
    """Members of ``src`` that would replace or delete something different in ``dst``."""
    out = []
    for child in sorted(src.iterdir()):
        target = dst / child.name
        name = f"{rel}{child.name}"
        if not (target.exists() or target.is_symlink()):
            continue
        child_dir = child.is_dir() and not child.is_symlink()
        target_dir = target.is_dir() and not target.is_symlink()
        if child_dir and target_dir:
            out += _conflicts(child, target, name + "/")
        elif child_dir or target_dir:
            kind = "a folder" if target_dir else "a file"
            out.append(f"{name!r} ({kind} in the destination, not in the archive)")
        elif not _same_file(child, target):
            out.append(f"{name!r} (a different file already exists)")
    return out


def _merge_move(src: Path, dst: Path) -> None:
    """Move the contents of ``src`` into ``dst``; never replaces or deletes anything there
    (:func:`_conflicts` was checked first; identical files are left as they are)."""
    dst.mkdir(parents=True, exist_ok=True)
    for child in src.iterdir():
        target = dst / child.name
        if target.exists() or target.is_symlink():
            if child.is_dir() and not child.is_symlink():
                _merge_move(child, target)
            continue  # the same file is already there
        os.replace(child, target)


def _extract_into(dest: Path, archive: Path, extract) -> None:
    """Run ``extract(tmp)``; refuse (and write nothing) when members collide with ``dest``."""
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            extract(tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise ValueError(
                f"archive {archive.name}: truncated or corrupt ({type(err).__name__}: {err}); "
                "nothing was extracted"
            ) from None
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as err:
            raise UnsafeArchiveError(
                f"archive {archive.name}: members collide with each other (a file and a folder "
                f"of the same name, {type(err).__name__}); nothing was extracted"
            ) from None
        clash = _conflicts(tmp, dest)
        if clash:
            raise FileExistsError(
                f"archive {archive.name}: {len(clash)} member(s) would replace what is already "
                f"in {dest}: {', '.join(clash[:3])}; nothing was extracted (move those aside "
                "or extract into an empty folder)"
            )
        _merge_move(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar (``.tar``, ``.tar.gz``...) archive into ``dest``, safely.

    Every member is checked *before* anything is written: absolute paths, ``..`` components,
    names resolving outside ``dest``, symbolic/hard links pointing outside ``dest``, and
    device files are refused with :class:`UnsafeArchiveError`, and ``dest`` is left as it was.
    Members are extracted into a temporary folder inside ``dest`` and then moved into place.
    Nothing already in ``dest`` is ever deleted or replaced: a member that would replace a
    different file, or a file where ``dest`` has a folder (or the reverse), raises
    ``FileExistsError`` before anything is moved (identical files are fine, so extracting
    the same archive twice works). A truncated or corrupt archive raises ``ValueError``.

    Args:
        archive: the archive file.
        dest: target folder (created).

    Returns:
        ``dest``.

    Example:
        >>> import io, tempfile, zipfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with zipfile.ZipFile(d / "evil.zip", "w") as z:
        ...     z.writestr("../evil.txt", "x")
        >>> safe_extract(d / "evil.zip", d / "out")
        Traceback (most recent call last):
        ...
        dlcv_utils.datasets.download.UnsafeArchiveError: member '../evil.txt' contains '..': refused
        >>> list((d / "out").iterdir())
        []
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"archive: no such file: {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    _safe_extract(archive, dest)
    return dest


def _safe_extract(archive: Path, dest: Path) -> None:
    if zipfile.is_zipfile(archive):
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise ValueError(f"archive {archive.name}: corrupt zip file ({err})") from None
        with zf:
            _zip_members(zf, dest)
            _extract_into(dest, archive, zf.extractall)
        return
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ValueError(
            f"archive: {archive} is neither a zip nor a tar file, or it is truncated or "
            f"corrupt ({' '.join(str(err).split())})"
        ) from err
    with tf:
        try:
            members = tf.getmembers()
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise ValueError(
                f"archive {archive.name}: truncated or corrupt ({type(err).__name__}: {err}); "
                "nothing was extracted"
            ) from None
        _tar_members(tf, dest, members)
        if isinstance(tf.fileobj, io.BufferedReader):  # plain tar: only zero blocks may follow
            with open(archive, "rb") as f:
                f.seek(tf.offset)
                if f.read().strip(b"\0"):
                    raise ValueError(
                        f"archive {archive.name}: truncated or corrupt (unreadable data after "
                        f"{len(members)} member(s)); nothing was extracted"
                    )

        def extract(tmp):
            try:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, filter="data")  # second line of defence
                else:  # pragma: no cover - Python < 3.11.4
                    tf.extractall(tmp)
            except tarfile.FilterError as err:
                raise UnsafeArchiveError(f"archive {archive.name}: {err}") from err

        _extract_into(dest, archive, extract)


# --------------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------------


def download(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    registry: dict[str, DatasetSource] | None = None,
    progress: bool = True,
    keep_archives: bool = False,
    timeout: float = 60,
    max_seconds: float | None = None,
) -> Path:
    """Download, verify and safely extract a dataset into ``root/name``; cached.

    Args:
        name: ``"voc2007"``, ``"voc2012"``, ``"coco2017-val"`` or ``"pennfudan"`` (keys of
            :data:`REGISTRY`, or of ``registry``).
        root: parent folder; default :func:`dlcv_utils.runtime.cache_dir` ``/ "downloads"``.
        mirror: base URL replacing the registry's (default ``$DLCV_MIRROR`` when set).
        registry: alternative registry (tests use a tiny one).
        progress: show a progress bar.
        keep_archives: keep the archives after extraction (default: delete them).
        timeout: seconds to wait for the connection and for each read.
        max_seconds: limit on each file's whole transfer (``None``: no limit); the partial
            download is kept, a later call resumes it.

    Returns:
        The folder ``root/name`` holding the extracted files.

    Raises:
        ValueError: unknown ``name``.
        DownloadError: network problems or a truncated download (call again to resume).
        ChecksumError: checksum mismatch (the download is deleted, nothing extracted).
        UnsafeArchiveError: a malicious archive (nothing extracted, the archive deleted).
        ValueError: a file that is not a valid zip/tar (an HTML error page, a truncated
            archive): it is deleted, so the next call downloads it again.
        FileExistsError: the archive would replace files already in ``root/name``.

    Example:
        >>> download("imagenet", "/tmp")
        Traceback (most recent call last):
        ...
        ValueError: name must be one of ['coco2017-val', 'pennfudan', 'voc2007', 'voc2012'], got 'imagenet'
    """
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise ValueError(f"name must be one of {sorted(registry)}, got {name!r}")
    source = registry[name]
    if root is None:
        from dlcv_utils.runtime import cache_dir

        root = cache_dir() / "downloads"
    target = Path(root) / name
    target.mkdir(parents=True, exist_ok=True)
    base = mirror or os.environ.get(MIRROR_ENV) or source.base_url
    for rf in source.files:
        marker = target / f".{rf.filename}.done"
        if marker.is_file():
            continue
        archive = target / rf.filename
        if not archive.is_file():
            url = base.rstrip("/") + "/" + rf.path.lstrip("/")
            download_file(url, archive, progress=progress, timeout=timeout, max_seconds=max_seconds)
        try:
            _verify(archive, rf)
        except ChecksumError:
            archive.unlink(missing_ok=True)
            raise
        try:
            safe_extract(archive, target)
        except UnsafeArchiveError:
            archive.unlink(missing_ok=True)  # never keep a malicious archive around
            raise
        except ValueError as err:  # not an archive / truncated: do not keep it cached
            archive.unlink(missing_ok=True)
            raise ValueError(f"{err}; the file was deleted, run again to download it anew") from err
        marker.write_text(rf.md5 or rf.sha256 or "unverified")
        if not keep_archives:
            archive.unlink(missing_ok=True)
    return target
