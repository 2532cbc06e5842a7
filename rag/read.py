"""Read corpus files into text: pick the encoding, extract the text of HTML, refuse junk.

Each file becomes a `SourceFile` or a `Skipped` with a reason; one bad file never stops the
others. Offsets everywhere else index the text returned here (for HTML and PDF: the
extracted text).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

from rag.types import Skipped, SourceFile

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

_BOMS = [
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_PDF_RUN_ON = re.compile(r"(?<=[^.!?:\n])[ \t]*\n(?=[a-z])")
# Control characters other than tab, line feed, form feed and carriage return; counted with
# a regex because a Python loop over every character dominated re-ingest of large corpora.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
# Text with more control characters than this share is not text.
_MAX_CONTROL_SHARE = 0.01
# Why a file with bytes but no text is skipped, by kind (a plain text file is just empty).
_NO_TEXT = {
    **dict.fromkeys(PDF_SUFFIXES, "no text in the PDF; scanned pages need OCR first"),
    **dict.fromkeys(HTML_SUFFIXES, "no text in the page"),
}
# A file whose status changed this recently may change again within the clock's resolution
# while keeping its size and times, so its stamp is not trusted until it has settled.
_SETTLED_NS = 2_000_000_000


def read_source(path: Path, name: str, max_bytes: int) -> SourceFile | Skipped:
    """Decode one corpus file, or say in one line why it cannot be used."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return Skipped(name, f"unsupported type {suffix or '(none)'}; use .txt, .md, .html or .pdf")
    try:
        status = path.stat()
        size = status.st_size
        if size > max_bytes:
            return Skipped(
                name,
                f"{size / 1e6:.1f} MB is above the {max_bytes / 1e6:.0f} MB limit "
                "(raise RAG_MAX_FILE_MB to index it)",
            )
        data = path.read_bytes()
    except OSError as error:  # no permission, removed since the folder was listed, I/O error
        return Skipped(name, unreadable(error))
    if suffix in PDF_SUFFIXES:
        decoded = pdf_to_text(data)
        if decoded is None:
            return Skipped(name, "unreadable PDF (damaged, encrypted or scanned without text)")
    else:
        decoded = decode(data)
        if decoded is None:
            return Skipped(name, "binary file, not text")
    text, encoding = decoded
    if suffix in HTML_SUFFIXES:
        text = html_to_text(text)
    if not text.strip():
        return Skipped(name, _NO_TEXT.get(suffix, "empty file") if data.strip() else "empty file")
    return SourceFile(name, text, hashlib.sha256(data).hexdigest(), encoding, stamp(status))


def unreadable(error: OSError) -> str:
    """Why a file could not be read, for the list of skipped files."""
    return f"cannot be read ({error.strerror or error})"


def stamp(status: os.stat_result) -> tuple[int, ...] | None:
    """Size and times that change whenever the file's content does, as git and rsync use them.

    The change time (ctime) cannot be set back by tools that copy modification times, so a
    file rewritten with the same size and an old mtime still gets a new stamp. None for a
    file changed in the last moments (see _SETTLED_NS).
    """
    if time.time_ns() - status.st_ctime_ns < _SETTLED_NS:
        return None
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def decode(data: bytes) -> tuple[str, str] | None:
    """Text (with LF line ends) and encoding of `data`, or None when it is not text."""
    decoded = _decode_bytes(data)
    if decoded is None:
        return None
    text, encoding = decoded
    control = len(_CONTROL.findall(text))
    if text and control / len(text) > _MAX_CONTROL_SHARE:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _decode_bytes(data: bytes) -> tuple[str, str] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    if b"\x00" in data:  # without a UTF-16 mark, NUL bytes mean binary
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: scraped Western pages are nearly always Windows-1252, and Latin-1
    # decodes any byte, so nothing is lost.
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def pdf_to_text(data: bytes) -> tuple[str, str] | None:
    """The text layer of a PDF, pages separated by blank lines; None if it cannot be read."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf logs what it finds wrong in a damaged file ("EOF marker not found") as bare lines
    # on stderr; the file's skip reason already says it cannot be read.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
    except (PyPdfError, ValueError, KeyError, OSError):
        return None
    text = "\n\n".join(page.strip() for page in pages)
    # PDF lines break inside sentences; a line that runs on in lower case is the same one.
    return _PDF_RUN_ON.sub(" ", text), "pdf"


class _TextExtractor(HTMLParser):
    """Collects visible text, one line per block element, skipping page furniture, and the
    page's headline candidates."""

    SKIP = {"script", "style", "noscript", "template", "nav", "footer", "aside", "form", "svg"}
    BLOCK = {
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "article",
        "section", "header", "blockquote", "figcaption", "time", "pre", "td",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.inside: str | None = None  # "title" or "h1" while reading the first of each
        self.found: dict[str, str] = {}  # "og:title", "h1", "title": the text of each

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta" and ("property", "og:title") in attrs:
            self.found.setdefault("og:title", dict(attrs).get("content") or "")
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in ("title", "h1") and tag not in self.found and not self.skipping:
            self.inside, self.found[tag] = tag, ""
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.inside:
            self.inside = None
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self.inside:
            self.found[self.inside] += text
        if self.inside != "title":  # the <title> is not page text; it may be the headline
            self.parts.append(text)

    def headline(self) -> str:
        """The article's own headline (og:title, else the first h1) before the <title>,
        which often carries the site's name ("Rockets hit Balad | Gulf Wire")."""
        candidates = (self.found.get(key, "").strip() for key in ("og:title", "h1", "title"))
        return next((text for text in candidates if text), "")


def html_to_text(html: str) -> str:
    """The visible text of an HTML page, one paragraph per block element."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "\n\n".join([extractor.headline(), "".join(extractor.parts)])
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
