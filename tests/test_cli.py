"""The CLI contract, run as a user runs it (a subprocess), on real files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragtune.read.document import clean_text

DEMO_EN = Path(__file__).resolve().parents[1] / "ragtune" / "demo" / "data" / "squad_sample.json"


def ragtune(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    index = tmp_path_factory.mktemp("cli") / "index"
    result = ragtune("read", DEMO_EN, "--index", index)
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout and "= 24" in result.stdout
    return index


def test_read_counts_and_second_read_is_unchanged(cli_index):
    result = ragtune("read", DEMO_EN, "--index", cli_index)
    assert result.returncode == 0 and "1 unchanged" in result.stdout and "+0 -0 = 24" in result.stdout


def test_read_with_nothing_readable_fails_with_one_line_per_file(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    result = ragtune("read", tmp_path / "empty.txt", tmp_path / "nope.md", "--index", tmp_path / "index")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2
    assert any(line.endswith("empty.txt: empty file") for line in lines)
    assert any(line.endswith("nope.md: no such file or directory") for line in lines)
    assert "Traceback" not in result.stderr and not (tmp_path / "index" / "CURRENT").exists()


def test_ask_on_missing_index_tells_the_user_to_read_first(tmp_path):
    result = ragtune("ask", "anything?", "--index", tmp_path / "none")
    assert result.returncode == 1 and "run `ragtune read" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_is_one_line(tmp_path, cli_index):
    (tmp_path / "c.yaml").write_text("retrieval:\n  top_k: -3\n")
    result = ragtune("ask", "x?", "--index", cli_index, "--config", tmp_path / "c.yaml")
    assert result.returncode == 1 and "retrieval.top_k" in result.stderr and "Traceback" not in result.stderr


def test_ask_json_contract(cli_index):
    result = ragtune("ask", "Who was Kublai Khan's grandfather?", "--index", cli_index, "--top-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert "Genghis" in payload["answer"]
    assert len(payload["sources"]) <= 3
    assert set(payload["sources"][0]) >= {"id", "title", "text", "score"}
    assert any(s["id"].startswith("squad_sample-8-") for s in payload["sources"])


def test_eval_of_another_file_than_the_indexed_one_warns_about_gold_ids(cli_index, tmp_path):
    """A subset copy under another name derives other paragraph ids: say so instead of a silent recall 0."""
    data = json.loads(DEMO_EN.read_text(encoding="utf-8"))
    data["data"] = data["data"][:2]
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = ragtune("eval", subset, "--index", cli_index, "--retrieval-only", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"n", "retrieval", "seconds", "gold_in_index", "warnings"}
    assert payload["n"] == 5 and payload["retrieval"]["recall@20"] == 0.0 and payload["gold_in_index"] < 0.5
    [warning] = payload["warnings"]
    assert warning.startswith(f"{subset}: only 0 of 4 gold passage ids are in the index (first missing: "
                              "'subset-0-0')")
    shown = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert shown == [f"warning: {warning}"] and "Traceback" not in result.stderr

    report = tmp_path / "report"
    same = ragtune("eval", DEMO_EN, "--index", cli_index, "--retrieval-only", "--json", "--limit", "6",
                   "--report", report)
    assert same.returncode == 0, same.stderr
    payload = json.loads(same.stdout)
    assert payload["gold_in_index"] == 1.0 and "warnings" not in payload and "warning" not in same.stderr
    assert payload["retrieval"]["recall@20"] == 1.0
    assert json.loads((report / "metrics.json").read_text(encoding="utf-8"))["metrics"] == payload


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_is_a_usage_error(cli_index, question):
    result = ragtune("ask", question, "--index", cli_index)
    assert result.returncode == 2 and result.stderr.strip() == "error: the question is empty"
    assert result.stdout == ""


def test_an_adapter_for_another_base_model_is_one_line_before_any_model_loads(cli_index, tmp_path):
    adapter = tmp_path / "smol-lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["q_proj"]}))
    (adapter / "ragtune.json").write_text(json.dumps({"base_model": "smollm2-135m-instruct"}))
    result = ragtune("ask", "Who was Kublai Khan's grandfather?", "--index", cli_index, "--adapter", adapter)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line == (f"error: {adapter}: adapter trained for generator 'smollm2-135m-instruct', but generator.name "
                    "is 'qwen2.5-0.5b-instruct'; set generator.name to 'smollm2-135m-instruct' or use an adapter "
                    "trained for it")


#: a document whose title and text are Rich markup and terminal control sequences
ODD_TITLE = "T [/] [link=https://evil.example]x[/link]"
ODD_TEXT = "Bell\x07 osc\x1b]0;pwned\x07 csi\x9b31m cr\rX [/] [link=https://e.x]click[/link] [bold]b[/bold] :thumbs_up:"


def test_document_text_is_printed_as_text_not_markup_or_terminal_codes(tmp_path):
    data = tmp_path / "odd [b]file.json"
    data.write_text(json.dumps({"version": "1", "data": [{"title": ODD_TITLE, "paragraphs": [
        {"context": ODD_TEXT, "qas": []}]}]}), encoding="utf-8")
    index = tmp_path / "index"
    assert ragtune("read", data, "--index", index).returncode == 0
    (tmp_path / "empty [b]x.txt").write_text("")
    skipped = ragtune("read", tmp_path / "empty [b]x.txt", "--index", index)  # a read error naming the file
    assert skipped.returncode == 1 and "empty [b]x.txt: empty file" in skipped.stderr
    result = ragtune("ask", "xyzzy qwertyuiop?", "--index", index)  # nothing relevant: IDK, no model loads
    assert result.returncode == 0 and "Traceback" not in result.stderr
    shown = result.stdout.splitlines()[-1]
    # read stored CR as a line break (shown as a space) and dropped the control characters; ESC ] went whole
    assert shown == (f"  [1] odd [b]file-0-0 {ODD_TITLE} — Bell osc0;pwned csi31m cr X [/] "
                     "[link=https://e.x]click[/link] [bold]b[/bold] :thumbs_up:")
    as_json = ragtune("ask", "xyzzy qwertyuiop?", "--index", index, "--json")
    assert as_json.returncode == 0 and not any("\x7f" <= c <= "\x9f" for c in as_json.stdout)
    # stored as read cleaned it (control characters stripped at ingest), markup characters kept as text
    assert json.loads(as_json.stdout)["sources"][0]["text"] == clean_text(ODD_TEXT)
    assert "[link=https://e.x]click[/link]" in clean_text(ODD_TEXT)


def test_eval_prints_metrics_before_a_report_that_cannot_be_written(cli_index, tmp_path):
    (tmp_path / "report").write_text("a file where the report folder should be")
    result = ragtune("eval", DEMO_EN, "--index", cli_index, "--retrieval-only", "--limit", "4", "--json",
                     "--report", tmp_path / "report")
    assert result.returncode == 1 and "cannot write the report" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["retrieval"]["recall@20"] > 0.5


def test_eval_multihop_file_with_and_without_graph(tmp_path):
    """HotpotQA as it is: read indexes its paragraphs by title, eval scores all-supporting recall (with recall@2),
    and --graph finds both paragraphs of two bridge questions (an index without a graph walks its title links)."""
    from datafiles import HOTPOTQA_DEV

    lines = HOTPOTQA_DEV.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "bridges.jsonl"
    data.write_text(lines[20] + "\n" + lines[30] + "\n", encoding="utf-8")
    index = tmp_path / "index"
    assert ragtune("read", data, "--index", index).returncode == 0
    runs = {}
    for flags in ((), ("--graph",)):
        result = ragtune("eval", data, "--index", index, "--retrieval-only", "--json", *flags)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        runs[flags] = json.loads(result.stdout)
    plain, graph = runs[()], runs[("--graph",)]
    assert list(plain["retrieval"]) == ["recall@1", "recall@2", "recall@5", "recall@20", "mrr@10", "ndcg@10"]
    assert plain["gold_in_index"] == 1.0 and plain["n"] == 2
    assert graph["retrieval"]["recall@5"] == 1.0 > plain["retrieval"]["recall@5"]
    assert graph["retrieval"]["recall@1"] == 0.0  # two gold paragraphs never fit in one
