"""``chainlab compare``: bad input gives clear errors (exit 2), a full run on a fake model writes
every output, Ctrl-C exits 130 with the resume command, resume/overwrite rules; plus the problem
sets (built-in Game of 24 set, splits, data files) and an integration run on chainlab-tiny."""

from __future__ import annotations

import json

import pytest
from test_compare_fakes import FakeLLM, game24_responder

from chainlab import cli
from chainlab.eval import cli_compare, models
from chainlab.eval.datafiles import DataFileError, read_game24_csv
from chainlab.eval.problems import ProblemSetError, generated_game24, load_problems
from chainlab.eval.strategies import (
    GAME24_EXAMPLES,
    StrategyConfigError,
    build_strategies,
    parse_strategy_names,
    parse_strategy_opts,
)
from chainlab.models.registry import available
from chainlab.prompts import game24 as g24
from chainlab.tasks.game24_math import check_answer, is_solvable


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["compare", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def hide_data(monkeypatch, tmp_path) -> None:
    """No benchmark data anywhere: no $CHAINLAB_DATA and no ../shared/data beside the repo."""
    monkeypatch.delenv("CHAINLAB_DATA", raising=False)
    monkeypatch.setattr("chainlab.tasks.data.SHARED_DATA", tmp_path / "no-shared-data")


@pytest.fixture
def no_data(monkeypatch, tmp_path) -> None:
    hide_data(monkeypatch, tmp_path)


@pytest.fixture
def fake_model(monkeypatch, no_data):
    """``--model`` loads a fake Game of 24 solver (io answers are wrong)."""
    llm = FakeLLM(responder=game24_responder(io_correct=False))
    monkeypatch.setattr(models, "load_model", lambda *a, **k: llm)
    return llm


BASE = ("--model", "fake", "--task", "game24", "--no-progress")


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ("--task", "foo", "--strategies", "io"),
            "Valid tasks: game24, gsm8k, svamp, arith, jsonl",
        ),
        (
            ("--task", "game24", "--strategies", "io,bogus"),
            "Unknown strategy 'bogus'. Valid strategies: io",
        ),
        (("--task", "game24", "--strategies", "io", "--split", "900:5000"), "out of range"),
        (("--task", "game24", "--strategies", "io", "--split", "abc"), "START:END"),
        (("--task", "game24", "--strategies", "io", "--limit", "0"), "--limit must be >= 1"),
        (
            ("--task", "game24", "--strategies", "tot", "--strategy-opts", "tot.bb=3"),
            "Unknown option(s) for tot: bb",
        ),
        (("--task", "game24", "--strategies", "tot", "--strategy-opts", "tot.b=0"), "b=0"),
        (
            ("--task", "game24", "--strategies", "io", "--strategy-opts", "cot.k=3"),
            "not one of the strategies",
        ),
        (
            ("--task", "game24", "--strategies", "cot-sc", "--strategy-opts", "cot-sc.tie_break=last"),
            "'first' or 'likelihood'",
        ),
        (("--task", "arith", "--strategies", "tot"), "search protocol"),
        (("--task", "jsonl", "--strategies", "io"), "needs --data"),
        (("--task", "game24", "--strategies", "io", "--resume", "--overwrite"), "contradict"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys, tmp_path, no_data, argv, message):
    code, _, err = run_cli(capsys, "--model", "x", *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    assert message in err


def test_unknown_model_lists_valid_models(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--model", "./no/such/model", "--task", "game24",
                           "--strategies", "io", "--limit", "1", "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "does not exist" in err and "chainlab-tiny (" in err


def test_likelihood_options_pass_the_check_made_before_the_model_loads(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--model", "./no/such/model", "--task", "game24",
                           "--strategies", "cot-sc,verifier", "--limit", "1",
                           "--strategy-opts", "cot-sc.tie_break=likelihood", "verifier.tie_break=likelihood",
                           "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "does not exist" in err  # options accepted; the model path is the error


def test_packaged_model_not_installed(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("chainlab.models.registry.available", lambda: [])
    code, _, err = run_cli(capsys, "--model", "chainlab-tiny", "--task", "game24",
                           "--strategies", "io", "--limit", "1", "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "'chainlab-tiny' is not installed" in err


def test_jsonl_missing_field_names_line_and_field(capsys, tmp_path):
    data = tmp_path / "p.jsonl"
    data.write_text('{"question": "q1", "answer": "1"}\n\n{"question": "q2"}\n')
    code, _, err = run_cli(capsys, "--model", "x", "--task", "jsonl", "--data", str(data),
                           "--strategies", "io", "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2 and "p.jsonl:3: missing field 'answer'" in err


def test_game24_csv_missing_field(tmp_path):
    bad = tmp_path / "24.csv"
    bad.write_text("Rank,Numbers\n1,1 1 4 6\n")
    with pytest.raises(DataFileError, match=r"24.csv:1: missing field 'Puzzles'"):
        read_game24_csv(bad)
    bad.write_text("Rank,Puzzles\n1,1 1 4 6\n2,\n3,1 2 x 4\n")
    with pytest.raises(DataFileError, match=r"24.csv:3: missing field 'Puzzles'"):
        read_game24_csv(bad)


# ------------------------------------------------------------------ problem sets


def test_generated_game24_set():
    probs = generated_game24(100)
    assert len(probs) == 100 and probs == generated_game24(100)
    assert len({p["numbers"] for p in probs}) == 100
    for p in probs:
        nums = [int(x) for x in p["numbers"].split()]
        assert len(nums) == 4 and all(1 <= x <= 13 for x in nums) and is_solvable(nums)
    assert generated_game24(3, start=5) == probs[5:8]


def test_game24_default_is_tot_test_split_when_data_is_found(tmp_path, monkeypatch):
    d = tmp_path / "game24"
    d.mkdir()
    rows = "".join(f"{i + 1},1 2 3 {i % 13 + 1}\n" for i in range(1000))
    (d / "24.csv").write_text("Rank,Puzzles\n" + rows)
    monkeypatch.setenv("CHAINLAB_DATA", str(tmp_path))
    ps = load_problems("game24", limit=3)
    assert [p["id"] for p in ps.problems] == [900, 901, 902] and "ToT test split" in ps.source
    ps = load_problems("game24", data=str(d / "24.csv"), split="10:20")
    assert [p["id"] for p in ps.problems] == list(range(10, 20))
    with pytest.raises(ProblemSetError, match="out of range"):
        load_problems("game24", split="990:1001")
    hide_data(monkeypatch, tmp_path)
    assert load_problems("game24", limit=2).problems[0]["id"] == "gen-0"


def test_game24_default_falls_back_to_shared_data_beside_the_repo(tmp_path, monkeypatch):
    # one data-dir finder (chainlab.tasks.data): $CHAINLAB_DATA, then ../shared/data
    shared = tmp_path / "shared"
    (shared / "game24").mkdir(parents=True)
    rows = "".join(f"{i + 1},1 1 4 {i % 13 + 1}\n" for i in range(1000))
    (shared / "game24" / "24.csv").write_text("Rank,Puzzles\n" + rows)
    monkeypatch.setattr("chainlab.tasks.data.SHARED_DATA", shared)
    monkeypatch.delenv("CHAINLAB_DATA", raising=False)
    ps = load_problems("game24", limit=2)
    assert [p["id"] for p in ps.problems] == [900, 901] and str(shared) in ps.source
    # $CHAINLAB_DATA without game24/ falls through to ../shared/data; with it, it wins
    other = tmp_path / "env"
    other.mkdir()
    monkeypatch.setenv("CHAINLAB_DATA", str(other))
    assert str(shared) in load_problems("game24", limit=1).source
    (other / "game24").mkdir()
    (other / "game24" / "24.csv").write_text("Rank,Puzzles\n" + rows)
    assert str(other) in load_problems("game24", limit=1).source


def test_few_shot_game24_examples_are_correct():
    for ex in GAME24_EXAMPLES:
        assert check_answer(ex["numbers"], ex["answer"].split(":")[1].split("=")[0])


def test_strategy_names_and_opts():
    assert parse_strategy_names("io, CoT,sc") == ["io", "cot", "cot-sc"]
    with pytest.raises(StrategyConfigError, match="twice"):
        parse_strategy_names("io,direct")
    opts = parse_strategy_opts(['{"cot-sc": {"k": 3}}', "tot.b=2", "tot.method_select=sample"],
                               ["cot-sc", "tot"])  # fmt: skip
    assert opts == {"cot-sc": {"k": 3}, "tot": {"b": 2, "method_select": "sample"}}
    with pytest.raises(StrategyConfigError, match="strategy.option=value"):
        parse_strategy_opts(["k=3"], ["cot"])
    llm = FakeLLM(responder=game24_responder())
    built = build_strategies(
        ["cot-sc", "tot", "tot-dfs", "verifier", "few-shot", "least-to-most", "io", "cot"], llm,
        load_problems("game24", limit=1).task,
        {"cot-sc": {"base.max_new_tokens": 64}, "tot": {"b": 2}},
    )  # fmt: skip
    assert built["cot-sc"].k == 10 and built["cot-sc"].base.max_new_tokens == 64
    assert built["tot"].n_select_sample == 2 and built["tot-dfs"].method == "dfs"
    assert built["verifier"].k == 5 and len(built["few-shot"].examples) == 3


# ------------------------------------------------------------------ full runs on a fake model


def test_full_run_writes_outputs_and_refuses_other_settings(capsys, tmp_path, fake_model):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, *BASE, "--strategies", "io,cot,tot", "--limit", "4",
                                "--strategy-opts", "tot.b=2", "tot.n_evaluate_sample=1",
                                "--out", str(out))  # fmt: skip
    assert code == 0, err
    for name in (
        "results.jsonl",
        "run.json",
        "summary.json",
        "summary.csv",
        "accuracy_vs_cost.png",
    ):
        assert (out / name).exists(), name
    assert (out / "accuracy_vs_cost.png").read_bytes()[:4] == b"\x89PNG"
    assert "Strategy comparison" in stdout and "accuracy_vs_cost.png" in stdout
    assert len((out / "results.jsonl").read_text().splitlines()) == 12
    summary = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["strategies"]}
    assert summary["io"]["accuracy"] == 0.0 and summary["tot"]["accuracy"] == 1.0
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["model"] == "fake" and settings["limit"] == 4

    # same settings without --resume: refused; with --resume: nothing to redo
    code, _, err = run_cli(capsys, *BASE, "--strategies", "io,cot,tot", "--limit", "4",
                           "--strategy-opts", "tot.b=2", "tot.n_evaluate_sample=1", "--out", str(out))  # fmt: skip
    assert code == 2 and "--resume" in err
    n_calls = len(fake_model.calls)
    code, _, err = run_cli(capsys, *BASE, "--strategies", "io,cot,tot", "--limit", "4",
                           "--strategy-opts", "tot.b=2", "tot.n_evaluate_sample=1", "--out", str(out),
                           "--resume")  # fmt: skip
    assert code == 0 and len(fake_model.calls) == n_calls
    # different settings: refused even with --resume, naming the difference
    code, _, err = run_cli(capsys, *BASE, "--strategies", "io,cot", "--limit", "4", "--out",
                           str(out), "--resume")  # fmt: skip
    assert code == 2 and "different settings" in err and "strategy_names" in err
    code, _, err = run_cli(capsys, *BASE, "--strategies", "io", "--limit", "2", "--out", str(out),
                           "--overwrite")  # fmt: skip
    assert code == 0 and len((out / "results.jsonl").read_text().splitlines()) == 2


def test_resume_refuses_a_run_of_other_weights_behind_the_same_name(capsys, tmp_path, fake_model):
    """--model names a directory whose weights are then retrained: the stored run is not resumed
    (its results are another model's), and run.json says which weights it measured."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"weights v1")
    out = tmp_path / "run"
    argv = ("--model", str(model), "--task", "game24", "--no-progress", "--strategies", "io",
            "--limit", "2", "--out", str(out))  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    stored = json.loads((out / "run.json").read_text())["settings"]
    assert stored["model_weights"] and stored["adapter_weights"] is None
    assert run_cli(capsys, *argv, "--resume")[0] == 0  # same weights: resumes
    (model / "model.safetensors").write_bytes(b"weights v2")
    code, _, err = run_cli(capsys, *argv, "--resume")
    assert code == 2 and "different settings" in err and "model_weights" in err


def test_ctrl_c_exits_130_and_says_how_to_resume(capsys, tmp_path, fake_model):
    fake_model.fail_on, fake_model.fail_with = 2, KeyboardInterrupt
    out = tmp_path / "run"
    argv = (*BASE, "--strategies", "io,cot", "--limit", "4", "--batch-size", "2", "--out", str(out))
    code, _, err = run_cli(capsys, *argv)
    assert code == 130
    assert "interrupted: 2 result(s) are saved" in err and "--resume" in err
    assert "chainlab compare --model fake" in err
    fake_model.fail_on = None
    code, _, err = run_cli(capsys, *argv, "--resume")
    assert code == 0, err
    lines = (out / "results.jsonl").read_text().splitlines()
    keys = [(json.loads(x)["problem_id"], json.loads(x)["strategy"]) for x in lines]
    assert len(keys) == 8 == len(set(keys))


def test_llm_failure_exits_1_and_keeps_results(capsys, tmp_path, fake_model):
    fake_model.fail_on = 2
    code, _, err = run_cli(capsys, *BASE, "--strategies", "io", "--limit", "4", "--batch-size", "2",
                           "--out", str(tmp_path))  # fmt: skip
    assert code == 1 and "fake LLM failure" in err and "--resume" in err
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2


# ------------------------------------------------------------------ integration


@pytest.mark.skipif("chainlab-tiny" not in available(), reason="chainlab-tiny is not installed")
def test_compare_cli_on_chainlab_tiny(capsys, tmp_path):
    code, stdout, err = run_cli(capsys, "--model", "chainlab-tiny", "--task", "game24",
                                "--strategies", "io,cot", "--limit", "3", "--no-progress",
                                "--out", str(tmp_path))  # fmt: skip
    assert code == 0, err
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 6
    assert (tmp_path / "accuracy_vs_cost.png").exists()
    assert cli_compare.EXIT_OK == 0


# ------------------------------------------------------------------ tot vs tot-paper, CLI defaults


def wrong_answer_line_model(monkeypatch) -> FakeLLM:
    """A Game of 24 model that reaches 24 with valid steps but writes wrong Answer lines."""
    solver = game24_responder()

    def respond(prompt: str, j: int) -> str:
        if g24.COT_INSTRUCTION in prompt:
            return "Answer: 1 + 1 = 24"
        return solver(prompt, j)

    llm = FakeLLM(responder=respond)
    monkeypatch.setattr(models, "load_model", lambda *a, **k: llm)
    return llm


def test_tot_and_tot_paper_strategies():
    task = load_problems("game24", limit=1).task
    llm = FakeLLM(responder=game24_responder())
    built = build_strategies(["tot", "tot-paper"], llm, task)
    tot, paper = built["tot"], built["tot-paper"]
    assert tot.search_options == {"compose_answer": True} and tot.n_select_sample == 5
    assert paper.search_options == {"compose_answer": False} and paper.n_select_sample == 5
    assert tot.method == paper.method == "bfs"
    assert tot._search_task().compose_answer and not paper._search_task().compose_answer
    assert parse_strategy_names("tot_paper,tot-bfs") == ["tot-paper", "tot"]
    # a dict option is merged into the dict default; compose_answer can be switched off
    opts = parse_strategy_opts(['tot.search_options={"propose_max_new_tokens": 600}'], ["tot"])
    st = build_strategies(["tot"], llm, task, opts)["tot"]._search_task()
    assert st.compose_answer and st.propose_max_new_tokens == 600
    opts = parse_strategy_opts(['tot.search_options={"compose_answer": false}'], ["tot"])
    assert not build_strategies(["tot"], llm, task, opts)["tot"]._search_task().compose_answer
    with pytest.raises(StrategyConfigError, match="Invalid search_options"):
        build_strategies(["tot"], llm, task, {"tot": {"search_options": {"bogus": 1}}})


def test_cot_composed_strategies_read_answers_from_valid_steps(capsys, tmp_path, monkeypatch,
                                                               no_data):  # fmt: skip
    """cot-composed / cot-sc-composed answer from the validated steps; cot keeps the model's line."""
    import re

    from chainlab.tasks.game24_math import format_step, parse_numbers, solution_paths

    def respond(prompt: str, j: int) -> str:  # right steps, wrong answer line
        nums = parse_numbers(re.findall(r"Input: ([\d ]+)", prompt)[-1])
        path = solution_paths(nums, limit=1)[0]
        return "\n".join(format_step(s) for s in path) + "\nAnswer: 1 + 1 = 24"

    llm = FakeLLM(responder=respond)
    monkeypatch.setattr(models, "load_model", lambda *a, **k: llm)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, *BASE, "--strategies", "cot,cot-composed,cot-sc-composed",
                           "--limit", "2", "--strategy-opts", "cot-sc-composed.k=3",
                           "--out", str(out))  # fmt: skip
    assert code == 0, err
    summary = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["strategies"]}
    assert summary["cot"]["accuracy"] == 0.0
    assert summary["cot-composed"]["accuracy"] == summary["cot-sc-composed"]["accuracy"] == 1.0
    task = load_problems("game24", limit=1).task
    built = build_strategies(["cot-composed", "cot-sc-composed"], llm, task)
    assert built["cot-composed"].compose_answer and built["cot-sc-composed"].base.compose_answer
    assert built["cot-sc-composed"].k == 10
    opts = parse_strategy_opts(["cot-sc-composed.base.compose_answer=false"], ["cot-sc-composed"])
    assert not build_strategies(["cot-sc-composed"], llm, task, opts)["cot-sc-composed"].base.compose_answer
    arith = load_problems("arith", limit=1).task
    with pytest.raises(StrategyConfigError, match="compose_answer=True needs a task"):
        build_strategies(["cot-composed"], llm, arith)


def test_harness_completion_lengths_for_game24():
    task = load_problems("game24", limit=1).task
    built = build_strategies(["io", "cot", "cot-sc", "verifier", "tot"], FakeLLM(responder=str),
                             task)  # fmt: skip
    assert built["io"].max_new_tokens == 48 and built["cot"].max_new_tokens == 128
    assert built["cot-sc"].base.max_new_tokens == built["verifier"].base.max_new_tokens == 128
    st = built["tot"]._search_task()
    assert st.propose_max_new_tokens >= 400 and st.value_max_new_tokens >= 160
    opts = parse_strategy_opts(["cot.max_new_tokens=64"], ["cot"])
    assert build_strategies(["cot"], FakeLLM(responder=str), task, opts)["cot"].max_new_tokens == 64


def test_cli_tot_composes_answers_and_tot_paper_uses_the_models(capsys, tmp_path, monkeypatch,
                                                                no_data):  # fmt: skip
    llm = wrong_answer_line_model(monkeypatch)
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, *BASE, "--strategies", "tot,tot-paper", "--limit", "2",
                                "--strategy-opts", "tot.b=2", "tot-paper.b=2",
                                "tot.n_evaluate_sample=1", "tot-paper.n_evaluate_sample=1",
                                "--out", str(out))  # fmt: skip
    assert code == 0, err
    summary = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["strategies"]}
    assert summary["tot"]["accuracy"] == 1.0 and summary["tot-paper"]["accuracy"] == 0.0
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    tot_rec = next(r for r in records if r["strategy"] == "tot")
    assert "compose" in {e["stage"] for e in tot_rec["trace"]}
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert "compose_answer" in json.dumps(settings)
    # the same through --strategy-opts on plain tot
    code, _, err = run_cli(capsys, *BASE, "--strategies", "tot", "--limit", "2",
                           "--strategy-opts", 'tot.search_options={"compose_answer": false}',
                           "tot.b=2", "tot.n_evaluate_sample=1",
                           "--out", str(tmp_path / "paper"))  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "paper" / "summary.json").read_text())["strategies"]
    assert summary[0]["accuracy"] == 0.0
    n = len(llm.calls)
    code, _, err = run_cli(capsys, *BASE, "--strategies", "tot", "--limit", "2",
                           "--strategy-opts", 'tot.search_options={"compose_answer": true}',
                           "tot.b=2", "tot.n_evaluate_sample=1",
                           "--out", str(tmp_path / "composed"))  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "composed" / "summary.json").read_text())["strategies"]
    assert summary[0]["accuracy"] == 1.0
    assert not any(g24.COT_INSTRUCTION in p for c in llm.calls[n:] for p in c)


def test_cli_bad_search_options_exit_2(capsys, tmp_path, no_data):
    code, _, err = run_cli(capsys, "--model", "x", "--task", "game24", "--strategies", "tot",
                           "--strategy-opts", 'tot.search_options={"compose": true}',
                           "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2 and "Invalid search_options" in err


def test_batch_size_defaults_to_25():
    import argparse

    parser = argparse.ArgumentParser()
    cli_compare.add_arguments(parser)
    args = parser.parse_args(["--model", "m", "--task", "game24", "--strategies", "io",
                              "--out", "o"])  # fmt: skip
    assert args.batch_size == 25 == cli_compare.DEFAULT_BATCH_SIZE


def test_tables_are_120_columns_wide_when_stdout_is_not_a_tty(capsys, fake_model, tmp_path):
    import io

    from chainlab.eval.table import PIPE_WIDTH, make_console

    assert PIPE_WIDTH == 120 and make_console(io.StringIO()).width == 120
    code, stdout, err = run_cli(capsys, *BASE, "--strategies", "io,cot", "--limit", "2",
                                "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 0, err
    widths = [len(line) for line in stdout.splitlines() if "│" in line or "┃" in line]
    assert widths and max(widths) > 80 and max(widths) <= 120
    header = next(line for line in stdout.splitlines() if "strategy" in line and "accuracy" in line)
    assert "s/pb" in header and "done" in header  # every column on one line, none wrapped


def test_python_dash_m_chainlab(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "chainlab", "compare", "--help"],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "--strategies" in proc.stdout and "--batch-size" in proc.stdout
    assert "tot-paper" in proc.stdout and "default 25" in proc.stdout
