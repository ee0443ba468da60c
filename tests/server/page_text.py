"""What a person reads on a page: its text, without tags, attributes, scripts or styles."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:  # what a person reads of an element besides its text
            if name in ("title", "placeholder", "alt", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    """The page's text nodes (and titles, placeholders, alt texts, labels), one per line."""
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def get_page(client: Any, url: str) -> str:
    """The page at url through a Flask test client, which must answer 200."""
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    return str(r.get_data(as_text=True))


def table_rows(html: str, element_id: str, attr: str) -> dict[str, str]:
    """The visible text of each row of the table with id `element_id`, by the rows' data-`attr`."""
    part = html.split(f'id="{element_id}"', 1)[1].split("</table>", 1)[0]
    return {
        m.group(1): visible_text(m.group(0))
        for m in re.finditer(rf'<tr[^>]*data-{attr}="([^"]+)"[^>]*>.*?</tr>', part, re.S)
    }
