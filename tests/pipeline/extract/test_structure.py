"""Structure recovery shared by the readers: typed text gets the plain-text rules everywhere."""

from __future__ import annotations

from extract_builders import statements
from roundtrip import CORPUS, typed_docx, typed_lines

from pipeline.config import LimitsConfig
from pipeline.extract import extract_document
from pipeline.extract._layout import SizeStats, TextLine, Word, join_lines
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location


def test_text_typed_into_word_gives_the_statements_of_its_text(limits: LimitsConfig) -> None:
    """Headings as plain lines, "- " bullets, tab columns, no styles: the same statements,
    with their table column and polarity, as the text original (all five documents are
    compared in test_roundtrip.py)."""
    name = "001_aeb9084501ce30c8.txt"
    text = (CORPUS / name).read_text(encoding="utf-8")
    original = statements(extract_document(name, text.encode("utf-8"), limits).blocks)
    typed = extract_document("typed.docx", typed_docx(typed_lines(text)), limits)
    got = statements(typed.blocks)
    assert {row[0] for row in got} == {row[0] for row in original}
    tables = [row for row in original if row[2]]
    assert tables and [row for row in got if row[2]] == tables


def _lines(*texts: str) -> list[Block]:
    return [
        Block(BlockKind.PARAGRAPH, text, Location(number))
        for number, text in enumerate(texts, start=1)
        if text
    ]


def test_a_lone_tab_is_prose_and_a_tab_led_line_in_a_table_is_a_row() -> None:
    blocks = recover_structure(
        _lines(
            "Vi ses\tpå fredag.",
            "",
            "Möjligheter\tHinder",
            "Samverkan\tOlika uppdrag",
            "\t– Takbeloppet styr",
        )
    )
    kinds = [(b.kind, b.text, b.cells) for b in blocks]
    assert kinds[0] == (BlockKind.PARAGRAPH, "Vi ses på fredag.", ())
    assert kinds[-1] == (BlockKind.TABLE_ROW, "\t– Takbeloppet styr", ("", "– Takbeloppet styr"))
    assert statements(blocks)[-1] == ("Takbeloppet styr", "Hinder", "Hinder")


def test_styled_blocks_are_kept_and_typed_lines_around_them_recovered() -> None:
    styled = Block(BlockKind.HEADING, "Segment 2 – Hinder och möjligheter", Location(1), 2)
    blocks = recover_structure(
        [styled, *_lines("", "Grupp 3", "- Olika uppdrag", "- Oklar finansiering")]
    )
    assert blocks[0] is styled
    assert [(b.kind, b.level, b.text) for b in blocks[1:]] == [
        (BlockKind.HEADING, 3, "Grupp 3"),
        (BlockKind.LIST_ITEM, 0, "Olika uppdrag"),
        (BlockKind.LIST_ITEM, 0, "Oklar finansiering"),
    ]


def test_line_end_hyphens_are_joined_except_before_och() -> None:
    assert join_lines(["Det finns möj-", "ligheter i hälso-", "och sjukvården"]) == (
        "Det finns möjligheter i hälso- och sjukvården"
    )
    assert join_lines(["fler VFU-", "platser"]) == "fler VFU-platser"


def _line(text: str, style: str, size: float = 12.0) -> TextLine:
    words = [
        Word(word, 72 + 40 * i, 100 + 40 * i, 100, 100 + size, size, "Bold" in style, style)
        for i, word in enumerate(text.split())
    ]
    return TextLine.from_words(words)


def test_body_size_heading_styles_are_levels_three_and_four() -> None:
    """Word's and pandoc's level-3 and level-4 headings are set at the body size, bold and
    italic in the heading colour: they are headings below the larger sizes, bold first."""
    body = "Serif|(0, 0, 0)"
    h3, h4 = "Sans-Bold|(0.3, 0.5, 0.7)", "Sans-Oblique|(0.3, 0.5, 0.7)"
    lines = [
        _line("Södra sjukvårdsregionen", "Sans-Bold|(0.3, 0.5, 0.7)", 16.0),
        _line("Segment 1", "Sans-Bold|(0.3, 0.5, 0.7)", 14.0),
        _line("Grupp 3", h3),
        _line("Grupp 4", h4),
        *[_line("Alla parter måste ingå i samverkansarenor och mer text här", body)] * 5,
    ]
    stats = SizeStats.of(lines, 1.15)
    assert [stats.heading_level(line) for line in lines[:5]] == [1, 2, 3, 4, None]
    # An italic style that also sets long lines is emphasis, not a heading.
    emphasis = "Serif-Italic|(0, 0, 0)"
    question = "Vilka grundläggande förutsättningar är möjliga att identifiera som " * 2
    long = _line(question, emphasis)
    stats = SizeStats.of([*lines, long, _line("Kort rad", emphasis)], 1.15)
    assert stats.heading_level(_line("Kort rad", emphasis)) is None
