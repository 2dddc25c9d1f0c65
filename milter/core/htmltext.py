"""HTML to readable text for checks, keeping link targets (stdlib parser, never raises)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "address", "dd", "dt",
}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


@dataclass(frozen=True)
class Link:
    text: str
    href: str


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[Link] = []
        self._skip_depth = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "a":
            self._href = (dict(attrs).get("href") or "").strip() or None
            self._link_text = []
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._text(f" {alt} ")
        elif tag in ("td", "th"):
            self.out.append(CELL)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "a" and self._href is not None:
            text = " ".join("".join(self._link_text).split())
            self.links.append(Link(text=text, href=self._href))
            if self._href and self._href != text:
                self.out.append(f" <{self._href}>")
            self._href = None
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._text(data)

    def _text(self, data: str) -> None:
        self.out.append(data)
        if self._href is not None:
            self._link_text.append(data)


CELL = "\x1f"  # marks a table cell while rendering (unit separator: never in rendered text)


FEED_CHARS = 1 << 16


def html_to_text(html: str, deadline: float | None = None) -> tuple[str, list[Link]]:
    """Render `html` to text with `<target>` after each link's text; also return the links.

    With a `deadline` (a check's, from the host) the markup is fed in pieces and past it
    TimeoutError is raised: 10 MB of HTML take seconds of pure Python."""
    renderer = _Renderer()
    step = (len(html) or 1) if deadline is None else FEED_CHARS
    try:
        for start in range(0, len(html), step):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("html: deadline")
            renderer.feed(html[start:start + step])
        renderer.close()
    except TimeoutError:
        raise
    except Exception:  # html.parser is lenient, but never let markup crash a scan
        pass
    # white space folds, but table cells stay tab-separated, so a check can read columns
    lines = ("\t".join(" ".join(cell.split()) for cell in line.split(CELL)).strip("\t")
             for line in "".join(renderer.out).splitlines())
    text = "\n".join(line for line in lines if line.strip())
    return text, renderer.links
