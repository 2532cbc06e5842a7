"""Words as the keyword side sees them, and the persisted BM25 index (bm25s).

The same `terms()` feeds the BM25 index, the query, and the extractive answerer's sentence
scoring, so "withdrawal" in a question meets "withdraw" in a passage everywhere.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import zipfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z0-9]+(?:[.,'’][a-z0-9]+)*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say told tell according""".split()
)


class _Stemmer(Protocol):
    """The part of PyStemmer's `Stemmer.Stemmer` used here (PyStemmer has no type hints)."""

    def stemWords(self, words: Sequence[str]) -> list[str]: ...


@lru_cache(maxsize=1)
def _stemmer() -> _Stemmer:
    import Stemmer

    stemmer: _Stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers keep their separators ("2,500", "u.s")."""
    return _WORD.findall(text.lower().replace("’", "'"))


def terms(text: str) -> list[str]:
    """Stemmed content words of `text`, in order, stopwords removed."""
    # "2,500" and "2500", "U.S." and "US" are the same term.
    kept = [re.sub(r"[.,]", "", w) for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(kept)


class TermRow(NamedTuple):
    """One chunk as the keyword index sees it."""

    chunk_id: str
    file: str
    file_sha256: str
    text: str


@dataclass(frozen=True)
class TermTable:
    """The stemmed terms of every chunk in a BM25 index, with the file each chunk came from.

    Kept beside the index so that an update stems only new chunks: reading 100,000 chunks
    back from Chroma and stemming them again took 15 s of every ingest that changed a file.
    Terms are stored as numbers into `vocab`, all rows in one array, row i being
    `term_ids[offsets[i]:offsets[i + 1]]`.
    """

    ids: list[str]  # the chunk of each row
    files: list[str]  # the file of each row
    shas: dict[str, str]  # the content hash of each file the rows were made from
    vocab: list[str]
    term_ids: np.ndarray
    offsets: np.ndarray

    @classmethod
    def empty(cls) -> TermTable:
        return cls([], [], {}, [], np.zeros(0, np.int32), np.zeros(1, np.int64))

    @classmethod
    def load(cls, folder: Path) -> TermTable | None:
        """The table saved in `folder`, or None when there is none (an index saved before
        tables were kept) or it cannot be read: then the caller rebuilds it."""
        try:
            meta = json.loads((folder / _TABLE_META).read_text())
            with np.load(folder / _TABLE_ARRAYS) as arrays:
                term_ids, offsets = arrays["term_ids"], arrays["offsets"]
                files = [meta["names"][i] for i in arrays["file_of_row"]]
            table = cls(meta["ids"], files, meta["shas"], meta["vocab"], term_ids, offsets)
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile):
            return None
        rows = len(table.ids)
        whole = len(files) == rows and len(offsets) == rows + 1 and offsets[-1] == len(term_ids)
        return table if whole else None

    def save(self, folder: Path) -> None:
        names = sorted(self.shas)
        number = {name: i for i, name in enumerate(names)}
        meta = {"ids": self.ids, "names": names, "shas": self.shas, "vocab": self.vocab}
        (folder / _TABLE_META).write_text(json.dumps(meta))
        np.savez(
            folder / _TABLE_ARRAYS,
            term_ids=self.term_ids,
            offsets=self.offsets,
            file_of_row=np.array([number[name] for name in self.files], np.int32),
        )

    def keep(self, wanted: Mapping[str, str]) -> TermTable:
        """Only the rows of files in `wanted` (name -> content hash) still at that hash."""
        shas = {name: sha for name, sha in self.shas.items() if wanted.get(name) == sha}
        rows = np.array([file in shas for file in self.files], dtype=bool)
        lengths = np.diff(self.offsets)
        return TermTable(
            [chunk_id for chunk_id, kept in zip(self.ids, rows, strict=True) if kept],
            [file for file, kept in zip(self.files, rows, strict=True) if kept],
            shas,
            self.vocab,
            self.term_ids[np.repeat(rows, lengths)],
            np.concatenate([[0], np.cumsum(lengths[rows])]).astype(np.int64),
        )

    def add(self, rows: Sequence[TermRow]) -> TermTable:
        """This table plus a row for each of `rows`, its text stemmed."""
        number = {term: i for i, term in enumerate(self.vocab)}
        vocab = list(self.vocab)
        new_ids: list[int] = []
        lengths: list[int] = []
        for added in rows:
            # A chunk with no content words still needs a term to be a BM25 document.
            row = terms(added.text) or ["\0"]
            for term in row:
                if term not in number:
                    number[term] = len(vocab)
                    vocab.append(term)
                new_ids.append(number[term])
            lengths.append(len(row))
        return TermTable(
            self.ids + [row.chunk_id for row in rows],
            self.files + [row.file for row in rows],
            self.shas | {row.file: row.file_sha256 for row in rows},
            vocab,
            np.concatenate([self.term_ids, np.array(new_ids, np.int32)]),
            np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(lengths, dtype=np.int64)]),
        )

    def compacted(self) -> TermTable:
        """The same rows with terms no row uses any more dropped from the vocabulary."""
        used, term_ids = np.unique(self.term_ids, return_inverse=True)
        return TermTable(
            self.ids,
            self.files,
            self.shas,
            [self.vocab[i] for i in used],
            term_ids.astype(np.int32),
            self.offsets,
        )


_TABLE_META = "terms.json"
_TABLE_ARRAYS = "terms.npz"


class _Bm25Model(Protocol):
    """The part of `bm25s.BM25` used after indexing (bm25s has no type hints)."""

    def save(self, save_dir: str) -> None: ...

    def retrieve(
        self,
        query_tokens: list[list[str]],
        *,
        k: int,
        show_progress: bool,
        n_threads: int,
        weight_mask: npt.NDArray[np.float32] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...


class Bm25Index:
    """BM25 over chunk texts, saved beside the vector index and loaded once per process."""

    def __init__(
        self,
        ids: list[str],
        model: _Bm25Model | None,  # bm25s.BM25, imported lazily; None for an empty corpus
        document_frequency: dict[str, int],
        table: TermTable | None = None,
    ) -> None:
        self.ids = ids
        self._model = model
        self._df = document_frequency
        self._table = table  # only an index built in this process has it

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> Bm25Index:
        """Index `texts`, remembering which chunk id each one is."""
        rows = [TermRow(chunk_id, "", "", text) for chunk_id, text in zip(ids, texts, strict=True)]
        return cls.from_table(TermTable.empty().add(rows))

    @classmethod
    def from_table(cls, table: TermTable) -> Bm25Index:
        """Index the rows of `table`; the table is saved with the index."""
        import bm25s

        table = table.compacted()
        if not table.ids:  # bm25s cannot index nothing: an emptied corpus has no model
            return cls([], None, {}, table)
        rows = np.split(table.term_ids, table.offsets[1:-1])
        model = bm25s.BM25()
        model.index(
            ([row.tolist() for row in rows], {term: i for i, term in enumerate(table.vocab)}),
            show_progress=False,
        )
        # The score matrix is stored by term (CSC) and every score of a term present in a
        # chunk is positive, so a term's column length is its document frequency.
        counts = np.diff(model.scores["indptr"])
        df = {term: int(n) for term, n in zip(table.vocab, counts, strict=True) if n}
        return cls(list(table.ids), model, df, table)

    def save(self, folder: Path) -> None:
        """Write the index and its term table to `folder`, replacing any older copy only once
        complete."""
        if self._table is None:
            raise ValueError("only an index built by from_table() can be saved")
        staging = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if self._model is not None:
            self._model.save(str(staging))
        (staging / "newsdesk.json").write_text(json.dumps({"ids": self.ids, "df": self._df}))
        self._table.save(staging)
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        """Read an index written by `save` (without its term table: queries do not need it)."""
        import bm25s

        meta = json.loads((folder / "newsdesk.json").read_text())
        model = bm25s.BM25.load(str(folder)) if meta["ids"] else None
        return cls(meta["ids"], model, meta["df"])

    def __len__(self) -> int:
        return len(self.ids)

    def document_frequency(self, term: str) -> int:
        """How many chunks contain a stemmed term."""
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a stemmed term (high for rare or unseen)."""
        n, df = len(self.ids), self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(
        self, query: str, k: int, among: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Up to `k` (chunk id, score) pairs, best first; only chunks sharing a term and,
        given `among`, only chunks whose ids it holds."""
        known = [t for t in terms(query) if t in self._df]
        if not known or self._model is None:  # no model exactly when there are no chunks
            return []
        mask = None
        if among is not None:
            mask = np.fromiter((i in among for i in self.ids), np.float32, len(self.ids))
        docs, scores = self._model.retrieve(
            [known], k=min(k, len(self.ids)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [
            (self.ids[int(doc)], float(score))
            for doc, score in zip(np.asarray(docs)[0], np.asarray(scores)[0], strict=True)
            if score > 0
        ]
