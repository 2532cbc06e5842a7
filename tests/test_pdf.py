"""PDF articles: the text layer is read, indexed and cited like any other file."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from rag.pipeline import Pipeline
from rag.read import read_source
from rag.types import Skipped, SourceFile
from tests.conftest import REPO


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds `lines` (built by hand: no PDF writer needed)."""
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    content = f"BT /F1 11 Tf 50 750 Td 14 TL {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


FLOOD_PDF = minimal_pdf([
    "Floods close the port of Umm Qasr", "March 3, 2022",
    "Heavy rain flooded the docks of Umm Qasr on Tuesday, and the port authority said",
    "shipping would stay suspended for four days while pumps cleared the water.",
])  # fmt: skip


def test_pdf_text_layer_is_read(tmp_path: Path) -> None:
    path = tmp_path / "flood.pdf"
    path.write_bytes(FLOOD_PDF)
    source = read_source(path, "flood.pdf", 10**6)
    assert isinstance(source, SourceFile) and source.encoding == "pdf"
    assert source.text.startswith("Floods close the port of Umm Qasr\nMarch 3, 2022\n")
    # The sentence broken over two lines of the page is one line of text again.
    assert "the port authority said shipping would stay suspended" in source.text


def test_damaged_pdf_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nnot really a pdf")
    result = read_source(path, "broken.pdf", 10**6)
    assert isinstance(result, Skipped) and "unreadable PDF" in result.reason


def test_a_damaged_pdf_prints_nothing_beside_its_reason(tmp_path: Path) -> None:
    # pypdf logs "EOF marker not found" for such a file; with no logging set up that was a
    # bare line on stderr in the middle of `rag ingest`'s output. A fresh process, so that
    # logging is as a user's command has it (pytest's handlers would catch the line).
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 garbage garbage")
    script = "import sys; from pathlib import Path; from rag.read import read_source; " \
             "print(read_source(Path(sys.argv[1]), 'broken.pdf', 10**6).reason)"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, cwd=REPO, check=True)  # fmt: skip
    assert done.stdout.startswith("unreadable PDF")
    assert done.stderr == ""


def test_a_pdf_without_a_text_layer_is_named_as_such(tmp_path: Path) -> None:
    # Scanned pages: a PDF with pages but no text is not an "empty file".
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([]))
    result = read_source(path, "scan.pdf", 10**6)
    assert isinstance(result, Skipped)
    assert result.reason == "no text in the PDF; scanned pages need OCR first"


def test_pdf_article_is_answerable_with_a_citation(tmp_path: Path, make_settings) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "flood.pdf").write_bytes(FLOOD_PDF)
    pipeline = Pipeline(make_settings(corpus))
    assert pipeline.ingest().added == ["flood.pdf"]
    answer = pipeline.ask("How long will shipping stay suspended at Umm Qasr?")
    assert "four days" in answer.answer
    cited = answer.citations[0]
    assert cited.quote.startswith("Heavy rain flooded the docks")
    assert (cited.file, cited.date) == ("flood.pdf", date(2022, 3, 3))
