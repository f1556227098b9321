"""Content checks of the lesson sources (prose only; nothing is executed).

Every lesson ``lessons/NN_*.py`` teaches its terms in English with the Korean term in
parentheses on first use, "English term (한국어)", and ends with a ``## Glossary (용어집)``
markdown cell whose table ``| Term | 한국어 | Where it is taught |`` lists those terms. These
tests keep the glossary and the text in step: a glossary row whose term the lesson never uses
fails, and so does a Korean term in the text that the glossary forgets.
"""

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
GLOSSARY_HEADING = "## Glossary (용어집)"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# "term (한국어)", "**term** (한국어)", "`term` (한국어)", "term (IoU, 한국어)"
PAIR = re.compile(r"[A-Za-z0-9*`)\]]\s?\(([^()]*[\uac00-\ud7a3][^()]*)\)")
MIN_ROWS = 5
MIN_PAIRS = 5


def korean_parts(parenthetical):
    """The Hangul terms inside one parenthetical: ``"IoU, 교집합 대 합집합 비율"`` -> [...].

    A part ends at ``:`` (what follows is a list of examples) and parts are split at ``,``.
    """
    head = parenthetical.split(":")[0]
    return [p.strip() for p in head.split(",") if HANGUL.search(p)]


def split_lesson(path):
    """(body markdown text, glossary cell text, headings, index of glossary among md cells)."""
    nb = jupytext.read(path)
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    found = [i for i, s in enumerate(md) if GLOSSARY_HEADING in s]
    glossary = md[found[-1]] if found else None
    body = "\n".join(s for i, s in enumerate(md) if i not in found)
    headings = [
        re.sub(r"^#+\s*", "", line).strip()
        for line in body.splitlines()
        if re.match(r"^#{1,4}\s", line)
    ]
    return body, glossary, headings, (found[-1] if found else None), len(md)


def glossary_rows(glossary):
    """The table rows below the heading, as (term, korean, where) with header/rule removed."""
    rows = []
    for line in glossary.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):  # |---|---|---|
            continue
        rows.append(cells)
    if not rows or rows[0][:3] != ["Term", "한국어", "Where it is taught"]:
        raise AssertionError(
            f"glossary table must start with the header | Term | 한국어 | Where it is taught |, "
            f"got {rows[:1]}"
        )
    return rows[1:]


def plain(text):
    """Markdown emphasis and code marks removed, lower case, single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[*`_]", "", text)).lower()


def test_lessons_found():
    assert len(LESSONS) >= 6, LESSONS


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_glossary_is_last_and_has_rows(path):
    _, glossary, _, index, n_md = split_lesson(path)
    assert glossary is not None, f"{path.name}: no markdown cell with {GLOSSARY_HEADING!r}"
    assert index == n_md - 1, f"{path.name}: the glossary must be the last markdown cell"
    rows = glossary_rows(glossary)
    assert len(rows) >= MIN_ROWS, f"{path.name}: glossary has {len(rows)} rows, want >= {MIN_ROWS}"
    for row in rows:
        assert len(row) == 3 and all(row), f"{path.name}: incomplete glossary row {row}"
        assert HANGUL.search(row[1]), f"{path.name}: glossary row {row} has no Korean term"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_glossary_terms_are_used_in_the_lesson(path):
    body, glossary, headings, _, _ = split_lesson(path)
    assert glossary is not None, f"{path.name}: no glossary"
    text = plain(body)
    where_ok = [plain(h) for h in headings]
    for term, korean, where in glossary_rows(glossary):
        assert korean in body, f"{path.name}: glossary term {korean!r} never appears in the lesson"
        english = re.sub(r"\s*\([^()]*\)$", "", term)  # "intersection over union (IoU)"
        assert plain(english) in text, (
            f"{path.name}: glossary term {term!r} never appears in the lesson"
        )
        w = plain(where)
        assert re.fullmatch(r"lesson \d\d", w) or any(w in h for h in where_ok), (
            f"{path.name}: 'where it is taught' of {term!r} is {where!r}, which is neither "
            f"a section heading of this lesson nor 'lesson NN'"
        )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_korean_terms_are_paired_and_in_the_glossary(path):
    body, glossary, _, _, _ = split_lesson(path)
    assert glossary is not None, f"{path.name}: no glossary"
    pairs = {k for m in PAIR.finditer(body) for k in korean_parts(m.group(1))}
    assert len(pairs) >= MIN_PAIRS, (
        f"{path.name}: {len(pairs)} 'English (한국어)' pairs in the text, want >= {MIN_PAIRS}: "
        f"{sorted(pairs)}"
    )
    listed = {row[1] for row in glossary_rows(glossary)}
    missing = sorted(pairs - listed)
    assert not missing, f"{path.name}: Korean terms used but not in the glossary: {missing}"


def test_helpers_catch_a_broken_lesson(tmp_path):
    """The checks above can fail: a glossary row whose term is absent from the body."""
    bad = tmp_path / "99_bad.py"
    bad.write_text(
        "# %% [markdown]\n# # Lesson 99\n#\n# ## 1. Boxes\n#\n"
        "# A **box** (박스), its **score** (점수), **label** (레이블), **image** (이미지)\n"
        "# and **class** (클래스).\n\n"
        "# %%\nx = 1\n\n"
        "# %% [markdown]\n# ## Glossary (용어집)\n#\n"
        "# | Term | 한국어 | Where it is taught |\n# |---|---|---|\n"
        "# | box | 박스 | 1. Boxes |\n# | label | 레이블 | 1. Boxes |\n"
        "# | image | 이미지 | 1. Boxes |\n# | class | 클래스 | lesson 01 |\n"
        "# | anchor | 앵커 | 1. Boxes |\n",
        encoding="utf-8",
    )
    body, glossary, _, index, n_md = split_lesson(bad)
    assert index == n_md - 1
    rows = glossary_rows(glossary)
    assert [r[1] for r in rows] == ["박스", "레이블", "이미지", "클래스", "앵커"]
    assert "앵커" not in body and "박스" in body
    pairs = {k for m in PAIR.finditer(body) for k in korean_parts(m.group(1))}
    assert pairs == {"박스", "점수", "레이블", "이미지", "클래스"}  # 점수 is not in the glossary
    assert korean_parts("IoU, 교집합 대 합집합 비율") == ["교집합 대 합집합 비율"]
    assert korean_parts("2단계 검출기: R-CNN, Fast R-CNN") == ["2단계 검출기"]
    test_glossary_is_last_and_has_rows(bad)
    with pytest.raises(AssertionError, match="glossary term '앵커' never appears"):
        test_glossary_terms_are_used_in_the_lesson(bad)
    with pytest.raises(AssertionError, match="not in the glossary"):
        test_korean_terms_are_paired_and_in_the_glossary(bad)
