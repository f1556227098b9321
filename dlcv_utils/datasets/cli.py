"""The ``dlcv-data`` command: convert, validate, download, and build the shapes dataset.

Examples::

    dlcv-data convert --from voc --to coco SRC DST [--overwrite]
    dlcv-data validate --format coco PATH [--split val] [--repair] [--strict]
    dlcv-data download voc2007 ROOT [--mirror URL]
    dlcv-data shapes --out DIR

Taught in lesson 02.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from dlcv_utils.datasets.table import FORMAT_NAMES as FORMATS

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dlcv-data``.

    Example:
        >>> build_parser().parse_args(["convert", "--from", "voc", "--to", "yolo", "a", "b"]).to
        'yolo'
    """
    p = argparse.ArgumentParser(
        prog="dlcv-data",
        description="Dataset tools of the dlcv course (VOC/COCO/YOLO/Open Images).",
    )
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="convert a dataset folder between layouts")
    c.add_argument("--from", dest="src_format", required=True, choices=FORMATS)
    c.add_argument("--to", dest="to", required=True, choices=FORMATS)
    c.add_argument("--split", action="append", help="split to convert (repeatable; default all)")
    c.add_argument(
        "--overwrite", action="store_true", help="replace the contents of a non-empty DST"
    )
    c.add_argument("src")
    c.add_argument("dst")

    v = sub.add_parser("validate", help="report every problem of a file or dataset folder")
    v.add_argument("--format", dest="fmt", required=True, choices=FORMATS)
    v.add_argument("--split", default=None)
    v.add_argument("--repair", action="store_true", help="clip/drop what can be fixed, rewrite")
    v.add_argument("--strict", action="store_true", help="exit status 1 on any problem")
    v.add_argument("--num-classes", type=int, default=None, help="for a single YOLO file")
    v.add_argument("path")

    d = sub.add_parser("download", help="download and safely extract a public dataset")
    d.add_argument("name")
    d.add_argument("root")
    d.add_argument("--mirror", default=None, help="base URL replacing the official one")
    d.add_argument("--keep-archives", action="store_true")
    d.add_argument("--timeout", type=float, default=60, help="seconds per connect/read")
    d.add_argument(
        "--max-seconds", type=float, default=None, help="limit on each file's whole transfer"
    )

    s = sub.add_parser("shapes", help="build the synthetic shapes dataset")
    s.add_argument("--out", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``dlcv-data``; returns the exit status (0 ok, 1 problems found or an error).

    Example:
        >>> main(["download", "nope", "/tmp/x"])
        error: name must be one of ['coco2017-val', 'pennfudan', 'voc2007', 'voc2012'], got 'nope'
        1
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            from dlcv_utils.datasets.layout import convert

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = convert(
                    args.src,
                    args.dst,
                    args.src_format,
                    args.to,
                    splits=args.split,
                    overwrite=args.overwrite,
                )
            print(rep.summary())
            for line in rep.losses:
                print(f"  dropped: {line}")
            return 0
        if args.command == "validate":
            from dlcv_utils.datasets.validate import validate

            rep = validate(
                args.path,
                args.fmt,
                split=args.split,
                repair=args.repair,
                num_classes=args.num_classes,
            )
            print(rep)
            return 1 if (args.strict and not rep.ok) else 0
        if args.command == "download":
            from dlcv_utils.datasets.download import download

            out = download(
                args.name,
                args.root,
                mirror=args.mirror,
                keep_archives=args.keep_archives,
                timeout=args.timeout,
                max_seconds=args.max_seconds,
            )
            print(out)
            return 0
        if args.command == "shapes":
            from dlcv_utils.datasets.shapes import build_shapes

            out = build_shapes(root=args.out)
            print(out if out is not None else args.out)
            return 0
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stdout)
        return 1
    return 1  # pragma: no cover - argparse requires a command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
