"""Keep the README's key figures equal to the committed notebooks' key figures.

Every lesson reports its headline numbers with ``dlcv_utils.course.report.key_figure``, which
prints ``Key figure: NAME = TEXT`` into the cell's output. The committed notebook therefore
records the figures of the complete run that built it. This script collects those lines from
``notebooks/NN_*.ipynb`` and writes them as one table into ``README.md``, between the markers
``<!-- key-figures:begin -->`` and ``<!-- key-figures:end -->``; ``tests/test_repo.py`` fails
when the README block and the notebooks disagree, so the two cannot drift apart.

usage: python scripts/readme_figures.py            (rewrite the README block)
       python scripts/readme_figures.py --check    (exit 1 if the README is stale)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- key-figures:begin -->"
END = "<!-- key-figures:end -->"
# the printed form of dlcv_utils.course.report.KEY_FIGURE_LINE
_LINE = re.compile(r"^Key figure: (?P<name>.+?) = (?P<text>.+)$")


def collect(notebook_dir: Path = ROOT / "notebooks") -> dict[str, list[tuple[str, str]]]:
    """Return ``{lesson: [(name, text), ...]}`` from the stream outputs of every notebook.

    Raises:
        ValueError: if a notebook is not valid JSON (the message names the file).
    """
    figures: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a valid notebook ({exc})") from None
        found = []
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []) or []:
                if out.get("output_type") != "stream" or out.get("name") != "stdout":
                    continue
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                for line in text.splitlines():
                    m = _LINE.match(line)
                    if m:
                        found.append((m["name"], m["text"]))
        figures[path.name[:2]] = found
    return figures


def render(figures: dict[str, list[tuple[str, str]]]) -> str:
    """The README block: a markdown table of every lesson's key figures, between the markers."""
    rows = [BEGIN, "| lesson | key figure | value |", "|---|---|---:|"]
    for lesson, items in figures.items():
        rows += [f"| {lesson} | {name} | {text} |" for name, text in items]
    rows.append(END)
    return "\n".join(rows)


def readme_block(readme: str) -> str:
    """The current block in ``readme`` (markers included).

    Raises:
        ValueError: if the markers are missing or out of order.
    """
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md must contain {BEGIN!r} followed by {END!r}")
    return readme[start : end + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    old, new = readme_block(readme), render(collect())
    if old == new:
        print("README key figures match the notebooks")
        return 0
    if args.check:
        print("README key figures differ from the notebooks; run python scripts/readme_figures.py")
        return 1
    readme_path.write_text(readme.replace(old, new), encoding="utf-8")
    print("README key figures updated from the notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
