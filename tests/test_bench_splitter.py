"""rag.ingest.SentenceSplitter against llama-index's SentenceSplitter, its reference: the same
chunks for the same text and settings (it is a copy of that algorithm without the import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from llama_index.core.node_parser import SentenceSplitter as Reference

from rag.clean import articles_from_text
from rag.embed import MiniLMEmbedder
from rag.ingest import SentenceSplitter, discover, read_corpus_file
from rag.sentences import split_keeping_text
from rag.types import SourceFile
from tests.conftest import CORPUS, REPO

FOLDERS = [CORPUS, REPO / "eval" / "extra" / "corpus", REPO / "tests" / "fixtures"]
# Text the article folders lack: no spaces, many commas, CJK punctuation, blank paragraphs.
ODD_TEXTS = [
    "",
    "   ",
    "x" * 3000,
    "one, two, three; " * 200,
    "第一句。第二句！第三句？" * 80,
    "Short.\n\n\n\nAnother paragraph.\n\n" + "A long sentence with many words " * 60,
    "Headline\n\n" + "Word " * 500 + "\n\nEnd.",
]
SETTINGS = [(160, 32), (64, 16), (240, 0), (40, 40)]


@pytest.fixture(scope="module")
def count_tokens(model_cache: Path) -> Callable[[str], int]:
    return MiniLMEmbedder(model_cache).count_tokens


def _sections() -> list[str]:
    texts = []
    for folder in FOLDERS:
        for name, path in discover(folder):
            source = read_corpus_file(folder, name, path, 10**9)
            if isinstance(source, SourceFile):
                for article in articles_from_text(source.name, source.text):
                    texts += [section.text for section in article.sections]
    return texts


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
def test_chunks_are_llama_index_chunks(
    count_tokens: Callable[[str], int], size: int, overlap: int
) -> None:
    ours = SentenceSplitter(size, overlap, count_tokens, "\n\n", split_keeping_text)
    reference = Reference(
        chunk_size=size,
        chunk_overlap=overlap,
        paragraph_separator="\n\n",
        tokenizer=lambda text: range(count_tokens(text)),
        chunking_tokenizer_fn=split_keeping_text,
    )
    texts = _sections() + ODD_TEXTS
    assert len(texts) > 30
    for text in texts:
        assert ours.split_text(text) == reference.split_text(text), text[:80]


def test_an_overlap_larger_than_the_chunk_is_refused(count_tokens: Callable[[str], int]) -> None:
    with pytest.raises(ValueError, match=r"chunk_overlap \(50\).*chunk_size \(40\)"):
        SentenceSplitter(40, 50, count_tokens, "\n\n", split_keeping_text)


def test_ingest_chunking_imports_no_llama_index(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rag.ingest import Chunker\n"
        "Chunker(160, 32, len).parse\n"
        "print(any(name.startswith('llama_index') for name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert done.stdout.strip() == "False"
