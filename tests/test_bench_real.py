"""The real-corpus benchmark's parsing of what the measured processes print (no timing)."""

from __future__ import annotations

import pytest

from benchmarks.real import _chunks, _spread, import_tree_lines, imports_by_package, report

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       189 |        189 |   _io
import time:       414 |        939 | _frozen_importlib_external
import time:      1000 |       1000 |     chromadb.api
import time:      2000 |     250000 |   chromadb.config
import time:       500 |     300000 | chromadb
import time:       100 |     200000 | rag.pipeline
import time:        50 |     100000 | rag.cli
"""


def test_imports_are_summed_per_top_level_package_once() -> None:
    assert imports_by_package(IMPORTTIME) == {
        "_frozen_importlib_external": pytest.approx(0.000939),
        "chromadb": pytest.approx(0.3),
        "rag": pytest.approx(0.3),
    }


def test_import_tree_keeps_the_shallow_imports_largest_first() -> None:
    rounded = [(depth, name, round(s, 3)) for depth, name, s in import_tree_lines(IMPORTTIME, 1)]
    assert rounded[:3] == [
        (0, "chromadb", 0.3),
        (1, "chromadb.config", 0.25),
        (0, "rag.pipeline", 0.2),
    ]
    assert all(depth <= 1 for depth, _, _ in import_tree_lines(IMPORTTIME, depth=1))


@pytest.mark.parametrize(
    ("printed", "chunks"),
    [
        ("967 added, 0 updated, 0 removed, 0 unchanged; 967 chunks embedded.\nskipped a.txt", 967),
        ("969 chunks\nindex: /tmp/x", 969),
        ("nothing", -1),
    ],
)
def test_chunk_counts_are_read_from_either_ingest(printed: str, chunks: int) -> None:
    assert _chunks(printed) == chunks


def test_report_gives_medians_ranges_and_the_ratio() -> None:
    results = {
        "machine": "x86_64, 2 cores",
        "started": "2026-11-26T23:00:00+00:00",
        "load_avg_1min": [0.1, 0.2],
        "rgb": {
            "files": 969,
            "newsdesk_s": _spread([10.0, 12.0, 11.0]),
            "baseline_s": _spread([18.0, 17.0, 16.5]),
            "newsdesk_cpu_s": _spread([15.0]),
            "baseline_cpu_s": _spread([25.0]),
            "newsdesk_chunks": 967,
            "baseline_chunks": 969,
            "advantage": 17.0 / 11.0,
            "advantage_per_run": [1.8, 1.42, 1.5],
        },
        "ask_5_files": {"seconds": _spread([1.0, 1.2, 0.9])},
    }
    text = report(results)
    assert "newsdesk 11.00 s (10.00-12.00), 967 chunks" in text
    assert "LlamaIndex defaults 17.00 s (16.50-18.00), 969 chunks" in text
    assert "newsdesk 1.55x faster (per run: 1.80x, 1.42x, 1.50x)" in text
    assert "cold `rag ask` (5 files, extractive), 3 processes: median 1.00 s (0.90-1.20)" in text
