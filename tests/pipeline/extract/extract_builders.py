"""Build DOCX, PPTX, PDF and scanned-PDF versions of a document from its extracted blocks.

Used by the extraction tests and `bench/fuzz_extract.py`. Each builder renders every block
with the format's own structure (Word heading/list styles, slide titles and bullets, PDF font
sizes, bullets and ruled tables), so extracting the built file should give the blocks back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from pipeline.config import LimitsConfig
from pipeline.extract import extract_document
from pipeline.records import Block, BlockKind

CORPUS = Path(__file__).resolve().parents[3] / "corpus"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_BOLD = FONT.with_name("DejaVuSans-Bold.ttf")


def corpus_blocks(name: str, max_breaks: int | None = None) -> tuple[Block, ...]:
    """The .txt extraction of a corpus file, cut before its `max_breaks`-th BREAK if given."""
    doc = extract_document(name, (CORPUS / name).read_bytes(), LimitsConfig())
    if max_breaks is None:
        return doc.blocks
    out: list[Block] = []
    breaks = 0
    for block in doc.blocks:
        if block.kind is BlockKind.BREAK:
            breaks += 1
            if breaks >= max_breaks:
                break
        out.append(block)
    return tuple(out)


def runs(blocks: Sequence[Block]) -> Iterator[list[Block]]:
    """Blocks grouped so that each table (contiguous TABLE_ROW lines) is one group."""
    group: list[Block] = []
    for block in blocks:
        if (
            group
            and block.kind is BlockKind.TABLE_ROW
            and group[-1].kind is BlockKind.TABLE_ROW
            and block.location.line == group[-1].location.line + 1
        ):
            group.append(block)
            continue
        if group:
            yield group
        group = [block]
    if group:
        yield group


def build_docx(blocks: Sequence[Block]) -> bytes:
    """Word: Title/Heading N styles, List Bullet [N] styles, tables, Normal paragraphs."""
    import docx

    document = docx.Document()
    for group in runs(blocks):
        block = group[0]
        if block.kind is BlockKind.TABLE_ROW:
            width = max(len(row.cells) for row in group)
            table = document.add_table(rows=len(group), cols=width)
            table.style = "Table Grid"
            for row, source in zip(table.rows, group, strict=True):
                for index, cell in enumerate(source.cells):
                    row.cells[index].text = cell
        elif block.kind is BlockKind.HEADING:
            document.add_heading(block.text, level=min(block.level, 9))
        elif block.kind is BlockKind.LIST_ITEM:
            style = "List Bullet" if block.level == 0 else f"List Bullet {min(block.level + 1, 3)}"
            document.add_paragraph(block.text, style=style)
        elif block.kind in (BlockKind.PARAGRAPH, BlockKind.NOTE):
            document.add_paragraph(block.text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def slides(blocks: Sequence[Block]) -> list[list[Block]]:
    """Blocks split at BREAKs (the BREAKs dropped)."""
    pages: list[list[Block]] = [[]]
    for block in blocks:
        if block.kind is BlockKind.BREAK:
            pages.append([])
        else:
            pages[-1].append(block)
    return [page for page in pages if page]


class _SlideWriter:
    """Stacks text runs and tables down one slide (the first text run fills the body)."""

    def __init__(self, slide: Any) -> None:
        self.slide = slide
        self.body = slide.placeholders[1]
        self.top: int = 1_371_600  # 1.5 inch in EMU
        self.used_body = False

    def text(self, run: list[Block]) -> None:
        from pptx.oxml.ns import qn
        from pptx.util import Emu, Inches

        if not run:
            return
        if not self.used_body:
            frame = self.body.text_frame
            self.body.top, self.body.left = Emu(self.top), Inches(0.5)
            self.used_body = True
            explicit = False
        else:
            box = self.slide.shapes.add_textbox(Inches(0.5), Emu(self.top), Inches(9), Inches(0.3))
            frame = box.text_frame
            explicit = True
        for index, item in enumerate(run):
            paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            paragraph.text = item.text
            p_pr = paragraph._p.get_or_add_pPr()
            if item.kind is BlockKind.LIST_ITEM:
                paragraph.level = min(item.level, 8)
                if explicit:
                    p_pr.append(p_pr.makeelement(qn("a:buChar"), {"char": "•"}))
            else:
                p_pr.append(p_pr.makeelement(qn("a:buNone"), {}))
            if item.kind is BlockKind.HEADING:
                for text_run in paragraph.runs:
                    text_run.font.bold = True
        self.top += 274_320 * len(run)  # 0.3 inch per paragraph

    def table(self, group: list[Block]) -> None:
        from pptx.util import Emu, Inches, Pt

        width = max(len(row.cells) for row in group)
        shape = self.slide.shapes.add_table(
            len(group), width, Inches(0.5), Emu(self.top), Inches(9), Emu(274_320 * len(group))
        )
        for r, source in enumerate(group):
            for c in range(width):
                cell = shape.table.cell(r, c)
                cell.text = source.cells[c] if c < len(source.cells) else ""
                for para in cell.text_frame.paragraphs:
                    for text_run in para.runs:
                        text_run.font.size = Pt(10)
        self.top += 274_320 * len(group)

    def finish(self) -> None:
        if not self.used_body:
            self.body._element.getparent().remove(self.body._element)


def build_pptx(blocks: Sequence[Block], notes: bool = True) -> bytes:
    """PowerPoint: one slide per page; first heading = title; other text in stacked shapes.

    Headings after the slide title become short bold paragraphs (sub-headings). The first
    text run goes into the layout's body placeholder (bullets inherited, prose with
    `buNone`), later runs into text boxes with explicit bullets; tables become table shapes.
    Each slide gets a speaker note "Talaranteckning för bild N".
    """
    import pptx

    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # Title and Content
    for number, page in enumerate(slides(blocks), start=1):
        slide = deck.slides.add_slide(layout)
        content = list(page)
        if content and content[0].kind is BlockKind.HEADING:
            slide.shapes.title.text = content.pop(0).text
        writer = _SlideWriter(slide)
        text_run: list[Block] = []
        for group in runs(content):
            if group[0].kind is BlockKind.TABLE_ROW:
                writer.text(text_run)
                text_run = []
                writer.table(group)
            else:
                text_run.extend(group)
        writer.text(text_run)
        writer.finish()
        if notes:
            slide.notes_slide.notes_text_frame.text = f"Talaranteckning för bild {number}"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


HEADING_SIZES = {1: 20.0, 2: 17.0, 3: 14.5, 4: 12.5, 5: 11.5, 6: 11.5}


def build_pdf(blocks: Sequence[Block]) -> bytes:
    """PDF with a text layer: headings by font size, • bullets indented by level, ruled tables.

    Every BREAK starts a new page.
    """
    return _build_pdf(blocks, "Helvetica", "Helvetica-Bold")


def build_pdf_embedded(blocks: Sequence[Block]) -> bytes:
    """`build_pdf` with embedded TrueType fonts (DejaVu Sans), as Word and PowerPoint export.

    The standard Helvetica of `build_pdf` has no glyph for characters outside Latin-1 (→ is
    drawn as "fi"); an embedded font has one for every character of the corpus.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    for font, path in (("DejaVuSans", FONT), ("DejaVuSans-Bold", FONT_BOLD)):
        if font not in registered:
            pdfmetrics.registerFont(TTFont(font, str(path)))
    return _build_pdf(blocks, "DejaVuSans", "DejaVuSans-Bold")


def _build_pdf(blocks: Sequence[Block], font: str, bold: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table

    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=12.5, spaceAfter=8)
    cell_style = ParagraphStyle("cell", parent=body, spaceAfter=0)
    story: list[object] = []
    for group in runs(blocks):
        block = group[0]
        if block.kind is BlockKind.BREAK:
            story.append(PageBreak())
        elif block.kind is BlockKind.TABLE_ROW:
            width = max(len(row.cells) for row in group)
            data = [
                [Paragraph(escape(c), cell_style) for c in row.cells]
                + [""] * (width - len(row.cells))
                for row in group
            ]
            table = Table(data, colWidths=[450 / width] * width)
            table.setStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)])
            story += [table, Spacer(1, 10)]
        elif block.kind is BlockKind.HEADING:
            size = HEADING_SIZES.get(block.level, 11.5)
            style = ParagraphStyle(
                f"h{block.level}",
                fontName=bold,
                fontSize=size,
                leading=size * 1.25,
                spaceBefore=6,
                spaceAfter=8,
            )
            story.append(Paragraph(escape(block.text), style))
        elif block.kind is BlockKind.LIST_ITEM:
            indent = 18 * (block.level + 1)
            style = ParagraphStyle(
                f"li{block.level}",
                parent=body,
                leftIndent=indent,
                bulletIndent=indent - 12,
                spaceAfter=2,
            )
            story.append(Paragraph(escape(block.text), style, bulletText="•"))
        elif block.text:
            story.append(Paragraph(escape(block.text), body))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def build_scan(lines: Sequence[str], dpi: int = 200) -> bytes:
    """A scanned PDF: the lines drawn as an image (no text layer), one page per 40 lines."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), size=int(11 * dpi / 72))
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    pages = []
    for start in range(0, max(len(lines), 1), 40):
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        y = dpi  # one-inch margin
        for line in lines[start : start + 40]:
            draw.text((dpi, y), line, fill=0, font=font)
            y += int(16 * dpi / 72)
        pages.append(image)
    out = io.BytesIO()
    pages[0].save(out, format="PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return out.getvalue()


def _scan_page(lines: Sequence[str], dpi: int) -> Any:
    """An A4 greyscale page image with the lines drawn from a one-inch margin."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), size=int(11 * dpi / 72))
    image = Image.new("L", (int(8.27 * dpi), int(11.69 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, fill=0, font=font)
        y += int(16 * dpi / 72)
    return image


def build_stamped_scan(lines: Sequence[str], stamp: str = "Sida 1", dpi: int = 200) -> bytes:
    """A one-page scan whose only text layer is a small stamp in the corner (e.g. "Sida 1")."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    page.drawImage(ImageReader(_scan_page(lines, dpi)), 0, 0, width, height)
    page.setFont("Helvetica", 8)
    page.drawString(width - 60, 20, stamp)
    page.showPage()
    page.save()
    return out.getvalue()


def build_flate_scan(n_pages: int, dpi: int = 300) -> bytes:
    """A scan as scanner software writes it: one Flate-compressed greyscale image per page.

    Each page says "Sida N", so no two page images are the same object.
    """
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    a85, rl_config.useA85 = rl_config.useA85, 0  # plain Flate, no ASCII85 wrapping
    try:
        for number in range(1, n_pages + 1):
            image = _scan_page([f"Sida {number}", "Vi behöver samverka mellan regionerna."], dpi)
            page.drawImage(ImageReader(image), 0, 0, width, height)
            page.showPage()
        page.save()
    finally:
        rl_config.useA85 = a85
    return out.getvalue()


def build_html(blocks: Sequence[Block]) -> bytes:
    """HTML: h1–h6, nested ul/li by level, tables, p."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"]
    depth = -1
    for group in runs(blocks):
        block = group[0]
        if block.kind is not BlockKind.LIST_ITEM:
            parts.append("</li></ul>" * (depth + 1))
            depth = -1
        if block.kind is BlockKind.TABLE_ROW:
            parts.append("<table>")
            for row in group:
                parts.append(
                    "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row.cells) + "</tr>\n"
                )
            parts.append("</table>\n")
        elif block.kind is BlockKind.HEADING:
            level = min(max(block.level, 1), 6)
            parts.append(f"<h{level}>{escape(block.text)}</h{level}>\n")
        elif block.kind is BlockKind.LIST_ITEM:
            level = block.level
            if level > depth:
                parts.append("<ul><li>" * (level - depth))
            else:
                parts.append("</li></ul>" * (depth - level) + "</li><li>")
            depth = level
            parts.append(escape(block.text) + "\n")
        elif block.text:
            parts.append(f"<p>{escape(block.text)}</p>\n")
    parts.append("</li></ul>" * (depth + 1) + "</body></html>")
    return "".join(parts).encode("utf-8")


def structure(blocks: Sequence[Block], levels: bool = True) -> list[tuple[str, ...]]:
    """What must survive a format change: kind, text (and level), table cells; no BREAK/NOTE.

    Trailing empty table cells are dropped (a title row may be one cell or padded).
    """
    out: list[tuple[str, ...]] = []
    for block in blocks:
        if block.kind in (BlockKind.BREAK, BlockKind.NOTE):
            continue
        if block.kind is BlockKind.TABLE_ROW:
            cells = list(block.cells)
            while cells and not cells[-1]:
                cells.pop()
            out.append(("row", *cells))
        elif block.kind in (BlockKind.HEADING, BlockKind.LIST_ITEM) and levels:
            out.append((block.kind.value, str(block.level), block.text))
        else:
            out.append((block.kind.value, block.text))
    return out


def statements(blocks: Sequence[Block]) -> list[tuple[str, str, str]]:
    """(text, polarity, table column) of each statement the segmenter makes of `blocks`."""
    from pipeline.config import SegmentConfig
    from pipeline.records import Document
    from pipeline.segment import segment_document

    document = Document("doc", "", "test", "utf-8", tuple(blocks))
    return [
        (s.text, s.polarity.value, s.table_column)
        for s in segment_document(document, SegmentConfig(), frozenset())
    ]


def build_merged_table(suffix: str) -> bytes:
    """A "Gemensam målbild" heading and a 3-column table with merged cells, as docx/pptx/html.

    Header: "Möjligheter" spanning columns 1–2, "Hinder" in column 3. "Olika uppdrag" spans
    rows 2–3 of column 3, and "Gemensam finansiering" spans columns 1–2 of the last row.
    """
    title = "Gemensam målbild"
    rows: list[tuple[str, ...]] = [
        ("Möjligheter", "Hinder"),
        ("Trygga kompetensförsörjning", "med fler platser", "Olika uppdrag"),
        ("Öka kunskapen", "om varandra"),
        ("Gemensam finansiering", "Kortsiktiga lösningar"),
    ]
    if suffix == "html":
        first, second, third, fourth = (
            [f"<td>{escape(text)}</td>" for text in row] for row in rows
        )
        first = [cell.replace("td>", "th>") for cell in first]
        first[0] = first[0].replace("<th>", "<th colspan=2>")
        second[2] = second[2].replace("<td>", "<td rowspan=2>")
        fourth[0] = fourth[0].replace("<td>", "<td colspan='2'>")
        table = "".join(f"<tr>{''.join(row)}</tr>" for row in (first, second, third, fourth))
        return f"<html><body><h2>{title}</h2><table>{table}</table></body></html>".encode()

    def fill(cell: Any) -> None:
        cell(0, 0).merge(cell(0, 1))
        cell(1, 2).merge(cell(2, 2))
        cell(3, 0).merge(cell(3, 1))
        cell(0, 0).text, cell(0, 2).text = rows[0]
        for column, text in enumerate(rows[1]):
            cell(1, column).text = text
        cell(2, 0).text, cell(2, 1).text = rows[2]
        cell(3, 0).text, cell(3, 2).text = rows[3]

    out = io.BytesIO()
    if suffix == "docx":
        import docx

        document = docx.Document()
        document.add_heading(title, level=2)
        fill(document.add_table(rows=4, cols=3).cell)
        document.save(out)
    elif suffix == "pptx":
        import pptx
        from pptx.util import Inches

        deck = pptx.Presentation()
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # Title Only
        slide.shapes.title.text = title
        shape = slide.shapes.add_table(4, 3, Inches(0.5), Inches(1.5), Inches(9), Inches(2))
        fill(shape.table.cell)
        deck.save(out)
    else:
        raise ValueError(f"no merged-table builder for {suffix!r}")
    return out.getvalue()


#: What every reader must make of `build_merged_table`: one cell per grid column, the merged
#: header repeated over its columns, merged body text once in its first column.
MERGED_TABLE_ROWS = [
    ("Möjligheter", "Möjligheter", "Hinder"),
    ("Trygga kompetensförsörjning", "med fler platser", "Olika uppdrag"),
    ("Öka kunskapen", "om varandra", ""),
    ("Gemensam finansiering", "", "Kortsiktiga lösningar"),
]
#: ... and the statements with their polarity and column header.
MERGED_TABLE_STATEMENTS = [
    ("Trygga kompetensförsörjning", "Möjlighet", "Möjligheter"),
    ("med fler platser", "Möjlighet", "Möjligheter"),
    ("Olika uppdrag", "Hinder", "Hinder"),
    ("Öka kunskapen", "Möjlighet", "Möjligheter"),
    ("om varandra", "Möjlighet", "Möjligheter"),
    ("Gemensam finansiering", "Möjlighet", "Möjligheter"),
    ("Kortsiktiga lösningar", "Hinder", "Hinder"),
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few byte flips, a truncation and/or an inserted chunk."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(out) - 1))
        out[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    if draw(st.booleans()):
        position = draw(st.integers(0, len(out)))
        out[position:position] = draw(st.binary(min_size=1, max_size=64))
    return bytes(out)
