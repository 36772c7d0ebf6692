"""HTML pages: the visible text of paragraphs, lists, headings and tables; scripts, styles,
navigation, forms and hidden elements are dropped."""

from __future__ import annotations

import re
from typing import Any

from index.format import is_date
from ingest.blocks import Block, Extracted, title_key
from ingest.errors import IngestError

_DROP = ("script", "style", "nav", "header", "footer", "noscript", "iframe", "form",
              "template", "svg", "button", "select", "textarea", "input", "object", "embed")
_INLINE = frozenset(
    "a abbr b bdi bdo cite code data del dfn em font i ins kbd label mark q s samp small span "
    "strike strong sub sup time tt u var wbr img".split()
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure h1 h2 h3 h4 h5 h6 "
    "hr li main ol p pre section summary table tr td th ul".split()
)
_DATE_META = ("dcterms.date", "dcterms.created", "dcterms.issued", "dc.date", "date",
                   "dc.date.created", "dc.date.issued", "citation_publication_date",
                   "article:published_time", "datepublished")


def read_html(data: bytes, name: str) -> Extracted:
    """Visible text of p, li, headings and tables, without scripts, navigation or forms."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(data, "html.parser")
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    first_h1 = next((tag for tag in soup.find_all("h1") if isinstance(tag, Tag)), None)
    h1 = " ".join(first_h1.get_text(" ").split()) if first_h1 is not None else ""
    page_date = _page_date(soup)
    _drop_invisible(soup)
    walker = _Walker()
    walker.walk(soup.body or soup)
    walker.flush()
    if not any(ch.isalnum() for block in walker.blocks for ch in block.text):
        raise IngestError(f"{name} has no visible text after removing scripts, styles, "
                          "navigation and forms. If the page builds its text with JavaScript, save "
                          "it from the browser as PDF and add that instead.")
    if h1 and title_key(h1) in title_key(title):  # "Guide | Site name" -> "Guide"
        title = h1
    extracted = Extracted(walker.blocks, title=title or h1 or None)
    if page_date:
        extracted.date, extracted.date_origin = page_date, "page date (meta tag)"
    return extracted


def _page_date(soup: Any) -> str | None:
    """The first valid date in a publication-date meta tag (`2023-03-15T10:00` -> 2023-03-15)."""
    for meta in soup.find_all("meta"):
        key = str(meta.get("name") or meta.get("property") or meta.get("itemprop") or "")
        match = re.match(r"\d{4}(?:-\d{2}(?:-\d{2})?)?", str(meta.get("content") or "").strip())
        if key.lower() in _DATE_META and match and is_date(match.group(0)):
            return match.group(0)
    return None


def _drop_invisible(soup: Any) -> None:
    """Remove the head, scripts, navigation, forms and elements hidden from readers."""
    from bs4 import Tag

    for tag in soup.find_all(["head", *_DROP]):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(True):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        style = str(tag.get("style") or "").replace(" ", "").lower()
        if (tag.has_attr("hidden") or str(tag.get("aria-hidden") or "").lower() == "true"
                or "display:none" in style or "visibility:hidden" in style):
            tag.decompose()


class _Walker:
    """Walks the parsed page, turning block elements into blocks and lists into bullets."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.inline).split())
        self.inline = []
        if text:
            self.blocks.append(Block(text))

    def walk(self, node: Any, depth: int = 0) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = child.name.lower()
            if re.fullmatch(r"h[1-6]", tag):
                self.flush()
                text = " ".join(child.get_text(" ").split())
                if text:
                    self.blocks.append(Block(text, int(tag[1])))
            elif tag == "table":
                self.flush()
                self.table(child)
            elif tag in ("ul", "ol"):
                self.flush()
                self.list(child, depth)
            elif tag == "br":
                self.inline.append(" ")
            elif tag in _INLINE and child.find(list(_BLOCK_TAGS)) is None:
                self.inline.append(child.get_text())
            else:
                self.flush()
                self.walk(child, depth)
                self.flush()

    def list(self, node: Any, depth: int) -> None:
        start_attr = str(node.get("start") or "1")
        number = int(start_attr) if start_attr.isdigit() else 1
        for item in node.find_all("li", recursive=False):
            first = len(self.blocks)
            self.walk(item, depth + 1)
            self.flush()
            if first < len(self.blocks) and not self.blocks[first].is_heading \
                    and not self.blocks[first].item:
                block = self.blocks[first]
                marker = f"{number}. " if node.name == "ol" else ""
                block.text = "  " * depth + "- " + marker + block.text
                block.item = True
            number += 1

    def table(self, table: Any) -> None:
        caption = table.find("caption")
        if caption is not None:
            text = " ".join(caption.get_text(" ").split())
            if text:
                self.blocks.append(Block(text))
        rows: list[str] = []
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue
            cells = [" ".join(cell.get_text(" ").split())
                     for cell in row.find_all(["td", "th"], recursive=False)]
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                rows.append(" | ".join(cells))
        if rows:
            self.blocks.append(Block("\n".join(rows)))
