"""The `rag` command, driven through click's runner and once as a real process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from tests.conftest import REPO, TROOPS_FILE, copy_corpus


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict[str, str]:
    """Settings by environment, as a user would give them; the corpus ingested once.
    Evaluation reports go to a scratch folder, never into the checkout's eval/results."""
    root = tmp_path_factory.mktemp("cli")
    values = {
        "RAG_CORPUS_DIR": str(copy_corpus(root / "corpus")),
        "RAG_INDEX_DIR": str(root / "index"),
        "RAG_CACHE_DIR": str(model_cache),
        "RAG_RESULTS_DIR": str(root / "results"),
    }
    result = CliRunner().invoke(main, ["ingest"], env=values)
    assert result.exit_code == 0, result.output
    assert "5 added, 0 updated, 0 removed, 0 unchanged; 55 chunks embedded." in result.stdout
    return values


def run(env: dict[str, str], *args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(main, list(args), env=env)


def test_ask_json_answers_with_late_2020_and_cites_the_forum_file(env: dict[str, str]) -> None:
    result = run(env, "ask", "--json", "When did US troop levels in Iraq drop to 2,500?")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["abstained"] is False
    assert record["mode"] == "extractive"
    assert "late 2020" in record["answer"]
    assert record["citations"][0]["file"] == TROOPS_FILE
    assert set(record["timings_ms"]) == {"retrieve", "answer", "total"}


@pytest.mark.parametrize(
    "question",
    ["when did US troops drop to 2,500?", "when did the us cut troops in iraq to 2500"],
)
def test_the_design_cards_own_words_are_answered(env: dict[str, str], question: str) -> None:
    # "drop" and "cut" are words no article uses ("reduced"): the passage is close in meaning.
    result = run(env, "ask", "--json", question)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["abstained"] is False
    # The sentence that itself says when leads, before one dated only by its article.
    assert "late 2020" in record["citations"][0]["quote"]
    assert record["citations"][0]["file"] == TROOPS_FILE


def test_an_answer_quoting_two_articles_names_each_before_its_sentences(
    env: dict[str, str],
) -> None:
    # The forum file holds several articles; the answer quotes two of them.
    record = json.loads(run(env, "ask", "--json", "when did US troops drop to 2,500?").stdout)
    titles = {c["title"] for c in record["citations"]}
    assert len(titles) == 2
    for title in titles:
        assert f"From “{title}”" in record["answer"]
    for citation in record["citations"]:  # each lead comes before its own sentence
        lead = record["answer"].index(f"From “{citation['title']}”")
        assert lead < record["answer"].index(citation["quote"])


@pytest.mark.parametrize("question", ["What is the capital of France?", "???", "hello"])
def test_an_off_topic_question_is_declined_with_no_passages(
    env: dict[str, str], question: str
) -> None:
    result = run(env, "ask", "--json", question)
    record = json.loads(result.stdout)
    assert record["abstained"] is True
    assert record["hits"] == [] and record["closest"] == []
    assert "Closest passages" not in run(env, "ask", question).stdout


def test_ask_prints_answer_and_numbered_sources(env: dict[str, str]) -> None:
    result = run(env, "ask", "Who is the spokesman of the Badr Organization?")
    assert result.exit_code == 0
    assert "Kareem Nuri" in result.stdout
    assert "[1] 00" in result.stdout  # a numbered source line naming the file


def test_ask_unanswerable_lists_closest_passages(env: dict[str, str]) -> None:
    result = run(env, "ask", "What is the population of Basra?")
    assert "I cannot answer this from the articles." in result.stdout
    assert "Closest passages:" in result.stdout
    after = result.stdout.split("Closest passages:\n")[1].splitlines()
    listed = [line for line in after if line.startswith("  - ")]
    assert 1 <= len(listed) <= 3  # only passages about the question are shown
    assert all(line.startswith("  - 00") and line.endswith('"') for line in listed), listed
    assert not any("\\n" in line for line in listed), "line breaks shown as spaces, not escapes"


def test_empty_question_is_an_error_without_traceback(env: dict[str, str]) -> None:
    result = run(env, "ask", "   ")
    assert result.exit_code == 1
    assert "Error: The question is empty" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == "", "no answer label before the error"


def test_reingest_with_nothing_changed_embeds_nothing(env: dict[str, str]) -> None:
    result = run(env, "ingest")
    assert "0 added, 0 updated, 0 removed, 5 unchanged; 0 chunks embedded." in result.stdout
    assert re.search(r"Reading: 100%.* 5/5 ", result.stderr), "a progress bar over the files"
    assert "Embedding" not in result.stderr


def test_status_json(env: dict[str, str]) -> None:
    record = json.loads(run(env, "status", "--json").stdout)
    assert (record["files"], record["articles"], record["chunks"]) == (5, 11, 55)
    assert record["collection"] == f"newsdesk-{record['fingerprint']}"
    assert record["last_indexed"]
    assert record["embed"] == "minilm"
    assert "embedding:    minilm\n" in run(env, "status").stdout


def test_status_of_a_corpus_never_indexed_writes_nothing(tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = {"RAG_CORPUS_DIR": str(copy_corpus(tmp_path / "corpus")), "RAG_INDEX_DIR": str(index)}
    result = run(env, "status")
    assert result.exit_code == 0, result.output
    assert "last indexed: never (run `rag ingest`)" in result.stdout
    assert not index.exists(), "looking must not create an empty store"


def test_chat_uses_the_earlier_turn(env: dict[str, str]) -> None:
    turns = "Who is Kataib Hezbollah's spokesman?\nWhich TV channel did he speak to?\n\n"
    result = CliRunner().invoke(main, ["chat"], env=env, input=turns)
    assert result.exit_code == 0, result.output
    assert "Husseini" in result.stdout
    assert "(searched for: Who is Kataib Hezbollah's spokesman? Which TV channel" in result.stdout
    assert "Mayadeen" in result.stdout.split("searched for")[1]


def test_chat_asks_a_question_that_names_its_own_subject_on_its_own(env: dict[str, str]) -> None:
    # "that" points back only in a question without a subject of its own: Abadi is one.
    turns = (
        "Who is Kataib Hezbollah's spokesman?\n"
        "Why did Abadi say in February 2018 that US forces were still needed in Iraq?\n\n"
    )
    result = CliRunner().invoke(main, ["chat"], env=env, input=turns)
    assert result.exit_code == 0, result.output
    assert "(searched for:" not in result.stdout
    assert "finish the job" in result.stdout


def test_flags_choose_corpus_and_index(tmp_path: Path, model_cache: Path) -> None:
    corpus = tmp_path / "elsewhere"
    corpus.mkdir()
    (corpus / "port.txt").write_text(
        "Port strike ends in Basra\n\nMay 2, 2022\n\n"
        "Dock workers in Basra ended a nine-day strike on Monday after the port authority "
        "agreed to raise their wages by 15 percent.\n"
    )
    env = {"RAG_CACHE_DIR": str(model_cache)}
    index = tmp_path / "port-index"
    args = ["--corpus", str(corpus), "--index", str(index)]
    assert run(env, "ingest", *args).exit_code == 0
    assert (index / "chroma").is_dir()
    record = json.loads(run(env, "ask", "--json", *args, "How long did the strike last?").stdout)
    assert "nine-day" in record["answer"]
    assert record["citations"][0]["file"] == "port.txt"


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path, model_cache: Path) -> None:
    result = run({"RAG_CACHE_DIR": str(model_cache)}, "ingest", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_eval_on_a_small_gold_file_gives_known_figures(env: dict[str, str], tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    lines = [
        {"id": "a", "question": "When did US troop levels in Iraq drop to 2,500?",
         "answers": ["late 2020"], "source_files": [TROOPS_FILE]},
        {"id": "b", "question": "Who is the spokesman of the Badr Organization?",
         "answers": ["Kareem Nuri"],
         "source_files": ["000_3457b9917c9ed967.txt", "001_7dc582d85285662e.txt",
                          "003_aada9badebe01919.txt"]},
        # Answerable, but the alias is wrong on purpose: counted as a wrong answer.
        {"id": "c", "question": "Which air base north of Baghdad was hit by two rockets?",
         "answers": ["Not the right alias"], "source_files": [TROOPS_FILE]},
        {"id": "d", "question": "Who won the 2018 FIFA World Cup?", "unanswerable": True,
         "source_files": []},
    ]  # fmt: skip
    gold.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "results.jsonl"
    result = run(env, "eval", str(gold), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["items"] == 4 and summary["answerable"] == 3
    assert summary["answer_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["abstention_accuracy"] == 1.0
    assert summary["hit_at_1"] == 1.0 and summary["false_abstentions"] == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "b", "c", "d"]
    assert [r["correct"] for r in records] == [True, True, False, True]
    assert {"id", "question", "answer", "abstained", "citations", "hits", "correct"} <= set(
        records[0]
    )
    assert records[0]["hits"][0]["file"] == TROOPS_FILE


def test_eval_split_runs_one_part_and_records_it(env: dict[str, str], tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    lines = [
        {"id": "a", "question": "When did US troop levels in Iraq drop to 2,500?",
         "answers": ["late 2020"], "source_files": [TROOPS_FILE]},
        {"id": "b", "question": "Who is Basra's police chief?", "answers": ["Rashid Fleih"],
         "source_files": [TROOPS_FILE]},
        {"id": "c", "question": "Who won the 2018 FIFA World Cup?", "unanswerable": True},
    ]  # fmt: skip
    gold.write_text("".join(json.dumps(line) + "\n" for line in lines))
    split = {"about": "by hand", "seed": 1, "dev": ["a"], "test": ["b", "c"]}
    (tmp_path / "split.json").write_text(json.dumps(split))
    result = run(env, "eval", str(gold), "--split", "test")
    assert result.exit_code == 0, result.output
    assert f"items: 2 (1 answerable, 1 unanswerable); mode extractive; test part of {tmp_path}" in (
        result.stdout
    )
    # No --results-dir: the run goes to RAG_RESULTS_DIR.
    pointer = Path(env["RAG_RESULTS_DIR"]) / "latest.json"
    folder = Path(json.loads(pointer.read_text())["path"])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["split"] == {
        "file": str(tmp_path / "split.json"), "part": "test", "seed": 1, "ids": 2
    }  # fmt: skip
    assert [json.loads(r)["id"] for r in (folder / "items.jsonl").read_text().splitlines()] == [
        "b", "c"
    ]  # fmt: skip

    overlapping = tmp_path / "overlap.json"
    overlapping.write_text(json.dumps({**split, "dev": ["a", "b"]}))
    result = run(env, "eval", str(gold), "--split", "dev", "--split-file", str(overlapping))
    assert result.exit_code == 1
    assert f"{overlapping}: ids ['b'] are in both dev and test" in result.stderr
    result = run(env, "eval", str(gold), "--split-file", str(overlapping))
    assert result.exit_code == 2 and "--split-file needs --split" in result.stderr


def test_eval_stops_at_a_bad_gold_line(env: dict[str, str], tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"id": "a", "question": "Q?", "answers": ["x"], "source_files": ["missing.txt"]}\n'
    )
    result = run(env, "eval", str(gold))
    assert result.exit_code == 1
    assert f"{gold}:1: source_files names ['missing.txt'], not in the corpus" in result.stderr


def test_python_dash_m_rag_runs_as_a_real_process(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "--json", "Who is Basra's police chief?"],
        env={**env, "PATH": ""},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Rashid Fleih" in json.loads(done.stdout)["answer"]


def in_a_process(
    env: dict[str, str], modules: list[str], args: tuple[str, ...] = ("ingest",)
) -> tuple[str, list[str]]:
    """`rag ARGS` in a fresh process: what it printed, and which of `modules` it loaded."""
    script = (
        "import json, sys\n"
        "from rag.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={**env, "PATH": ""}, cwd=REPO,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    *printed, loaded = done.stdout.strip().splitlines()
    return "\n".join(printed) + done.stderr, json.loads(loaded)


def test_an_unchanged_ingest_loads_no_answering_code(env: dict[str, str]) -> None:
    # Start-up is most of an unchanged ingest: the answerer, Ollama's client and Chroma
    # are for questions and changes only.
    printed, loaded = in_a_process(
        env, ["rag.answer.extractive", "rag.answer.generate", "ollama", "chromadb"]
    )
    assert "0 chunks embedded" in printed
    assert loaded == []


def test_a_question_is_answered_without_loading_the_sentence_splitter(
    env: dict[str, str],
) -> None:
    # Sentence boundaries are stored with each chunk at ingest: nltk's import is a fifth of
    # a cold `rag ask`, and llama-index's more than a second.
    printed, loaded = in_a_process(
        env, ["nltk", "llama_index"], ("ask", "When did US troops drop to 2,500?")
    )
    assert "late 2020" in printed
    assert loaded == []


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        # Read again by every ingest: finding it has no article text must stay cheap.
        ("menu.txt", "Home | World | Sport\nLog In\n", "menu.txt: no article text found"),
        # Shorter than a chunk, so one passage: llama-index's package (a second or more to
        # import) is loaded only for a section that must be split.
        ("brief.txt",
         "Port reopens\n\nThe port of Basra reopened on Monday after a week of storms, and the "
         "first ships of grain were unloaded by the evening, officials said.\n",
         "1 chunks embedded"),
    ],
    ids=["no-article-text", "shorter-than-a-chunk"],
)  # fmt: skip
def test_a_file_that_needs_no_splitting_is_ingested_without_loading_the_splitter(
    tmp_path: Path, model_cache: Path, name: str, text: str, said: str
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(text)
    env = {"RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "index"),
           "RAG_CACHE_DIR": str(model_cache)}  # fmt: skip
    printed, loaded = in_a_process(env, ["llama_index"])
    assert said in printed
    assert loaded == []


def test_eval_baseline_and_compare(env: dict[str, str], tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "a", "question": "When did US troop levels in Iraq drop to 2,500?",
                    "answers": ["late 2020"], "source_files": [TROOPS_FILE], "kind": "date"})
        + "\n"
        + json.dumps({"id": "b", "question": "Who won the 2018 FIFA World Cup?",
                      "unanswerable": True, "source_files": [], "kind": "unanswerable"})
        + "\n"
    )  # fmt: skip
    results = tmp_path / "results"
    first = run(env, "eval", str(gold), "--baseline", "--results-dir", str(results))
    assert first.exit_code == 0, first.output
    assert "baseline" in first.stdout and "report: " in first.stdout
    folder = Path(json.loads((results / "latest.json").read_text())["path"])
    summary = json.loads((folder / "summary.json").read_text())
    # The baseline never abstains, so it gets the unanswerable item wrong.
    assert summary["summary"]["abstention_accuracy"] == 1.0
    assert summary["baseline"]["summary"]["abstention_accuracy"] == 0.0
    second = run(env, "eval", str(gold), "--ids", "a", "--results-dir", str(results),
                 "--compare", str(folder / "summary.json"))  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "answer_accuracy" in second.stdout.split("metric")[1]


def test_ask_as_of_reads_only_what_was_published_by_then(env: dict[str, str]) -> None:
    question = "How many US troops are in Iraq now?"
    then = json.loads(run(env, "ask", "--json", "--as-of", "2019-06-30", question).stdout)
    assert then["as_of"] == "2019-06-30"
    assert "5,000" in then["answer"] and "2,500" not in then["answer"]
    assert all(c["date"] <= "2019-06-30" for c in then["citations"])
    now = json.loads(run(env, "ask", "--json", question).stdout)
    assert now["as_of"] is None
    assert "2,500" in now["answer"] and "as of April 7, 2021" in now["answer"]
    printed = run(env, "ask", "--as-of", "2019-06-30", question)
    assert printed.exit_code == 0
    assert printed.stdout.startswith("[extractive, as of 2019-06-30] ")
    assert "4 undated articles left out by the date range." in printed.stdout


def test_since_and_until_bound_the_articles_read(env: dict[str, str]) -> None:
    record = json.loads(
        run(env, "ask", "--json", "--since", "2020-01-01", "--until", "2020-12-31",
            "How many US troops were in Iraq?").stdout
    )  # fmt: skip
    assert record["hits"]
    assert all(c["date"] and "2020-01-01" <= c["date"] <= "2020-12-31" for c in record["citations"])
    assert "5,300" not in record["answer"] and "About 2,500" not in record["answer"]


def test_a_timeline_is_printed_and_given_as_json(env: dict[str, str]) -> None:
    record = json.loads(run(env, "ask", "--json", "How many US troops were in Iraq?").stdout)
    dates = [entry["date"] for entry in record["timeline"]]
    assert len(dates) >= 3 and dates == sorted(dates)
    assert {"date", "date_text", "date_basis", "statement", "citations"} == set(
        record["timeline"][0]
    )
    printed = run(env, "ask", "How many US troops were in Iraq?").stdout
    assert "Reported over time, oldest first:" in printed
    # Dated by another copy of the wire story: said so, the quoted file itself is undated.
    assert "- February 6, 2018 (date of a copy of the article): The Pentagon" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2021-05-01", "--until", "2021-01-01"],
         "The date range is empty: 2021-05-01 is after 2021-01-01."),
        (["--as-of", "June 2019"], "does not match the format '%Y-%m-%d'"),
    ],
)  # fmt: skip
def test_a_bad_date_is_one_clear_line(env: dict[str, str], args: list[str], message: str) -> None:
    result = run(env, "ask", *args, "How many troops?")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_chat_keeps_its_date_range_for_every_question(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["chat", "--until", "2019-06-30"], env=env,
        input="How many US troops are in Iraq now?\nWho is Iraq's prime minister?\n\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2,500" not in result.stdout
    assert "Kadhimi" not in result.stdout  # named prime minister only in 2020
    assert result.stdout.count("undated articles left out by the date range") == 2
