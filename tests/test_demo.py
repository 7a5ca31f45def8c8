"""``chainlab demo``: the compare command it runs, and a clear failure without chainlab-tiny."""

from __future__ import annotations

import argparse
import json

from chainlab import cli, demo
from chainlab.eval import cli_compare


def test_demo_without_chainlab_tiny_fails_clearly(capsys, monkeypatch):
    monkeypatch.setattr("chainlab.models.registry.available", lambda: [])
    assert cli.main(["demo"]) == 1
    assert "'chainlab-tiny' is not installed yet" in capsys.readouterr().err


def test_demo_runs_compare_with_resume_and_passes_options(capsys, monkeypatch):
    monkeypatch.setattr("chainlab.models.registry.available", lambda: ["chainlab-tiny"])
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(cli_compare, "run", lambda args: seen.append(args) or 0)
    assert cli.main(["demo", "--limit", "7", "--out", "x/y", "--strategies", "io,cot"]) == 0
    (args,) = seen
    assert (args.model, args.task, args.limit, args.out) == ("chainlab-tiny", "game24", 7, "x/y")
    assert args.strategies == "io,cot" and args.resume and not args.overwrite


def test_demo_defaults():
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    argv = demo.compare_argv(parser.parse_args([]))
    assert argv == ["--model", "chainlab-tiny", "--task", "game24", "--strategies",
                    "io,cot,cot-sc,cot-composed,cot-sc-composed,tot", "--limit", "100", "--out", "runs/demo",
                    "--batch-size", "50", "--resume"]  # fmt: skip


def test_demo_paper_option_adds_tot_paper():
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    argv = demo.compare_argv(parser.parse_args(["--paper"]))
    assert argv[argv.index("--strategies") + 1] == "io,cot,cot-sc,cot-composed,cot-sc-composed,tot,tot-paper"
    argv = demo.compare_argv(parser.parse_args(["--paper", "--strategies", "tot,tot-paper"]))
    assert argv[argv.index("--strategies") + 1] == "tot,tot-paper"


def test_demo_prints_the_table_and_the_plot_path(capsys, monkeypatch, tmp_path):
    from test_compare_fakes import FakeLLM, game24_responder

    from chainlab.eval import models

    monkeypatch.setattr("chainlab.models.registry.available", lambda: ["chainlab-tiny"])
    monkeypatch.setattr(models, "check_model", lambda model: None)
    llm = FakeLLM(responder=game24_responder())
    loaded: list[str] = []
    monkeypatch.setattr("chainlab.llms.load_llm", lambda m, **k: loaded.append(m) or llm)
    monkeypatch.delenv("CHAINLAB_DATA", raising=False)
    monkeypatch.setattr("chainlab.tasks.data.SHARED_DATA", tmp_path / "no-data")
    out = tmp_path / "demo"
    argv = ["demo", "--limit", "2", "--out", str(out), "--strategies", "io,cot,tot", "--paper"]
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert loaded == ["chainlab-tiny"]
    assert "Strategy comparison" in stdout and "tot-paper" in stdout
    assert f"plot:    {out / 'accuracy_vs_cost.png'}" in stdout
    assert (out / "accuracy_vs_cost.png").exists()
    # a second run continues the stored run (nothing to redo) and prints the table again
    n = len(llm.calls)
    assert cli.main(argv) == 0 and len(llm.calls) == n
    assert "Strategy comparison" in capsys.readouterr().out


def test_demo_failure_message_says_what_to_do(capsys, monkeypatch):
    monkeypatch.setattr("chainlab.models.registry.available", lambda: [])
    assert cli.main(["demo", "--paper"]) == 1
    err = capsys.readouterr().err
    assert "chainlab train-tiny" in err and "make demo" in err and "--model PATH" in err


def test_demo_sets_aside_a_run_of_an_earlier_model_build(capsys, monkeypatch, tmp_path):
    """A stored demo run whose weights fingerprint differs from the installed model's (an earlier
    build of chainlab-tiny) is moved to OUT.before-TIMESTAMP and the demo starts over; the same
    model resumes."""
    from test_compare_fakes import FakeLLM, game24_responder

    from chainlab.eval import models

    monkeypatch.setattr("chainlab.models.registry.available", lambda: ["chainlab-tiny"])
    monkeypatch.setattr(models, "check_model", lambda model: None)
    llm = FakeLLM(responder=game24_responder())
    monkeypatch.setattr("chainlab.llms.load_llm", lambda m, **k: llm)
    monkeypatch.delenv("CHAINLAB_DATA", raising=False)
    monkeypatch.setattr("chainlab.tasks.data.SHARED_DATA", tmp_path / "no-data")
    build = ["v1"]
    monkeypatch.setattr(
        "chainlab.llms.fingerprint.weights_fingerprint", lambda name, kind="model": name and build[0]
    )
    out = tmp_path / "demo"
    argv = ["demo", "--limit", "2", "--out", str(out), "--strategies", "io"]
    assert cli.main(argv) == 0
    n = len(llm.calls)
    assert cli.main(argv) == 0 and len(llm.calls) == n  # same build: resumed, nothing redone
    build[0] = "v2"
    capsys.readouterr()
    assert cli.main(argv) == 0 and len(llm.calls) > n
    err = capsys.readouterr().err
    assert "holds a run with other settings" in err and "model_weights" in err
    (aside,) = tmp_path.glob("demo.before-*")
    assert json.loads((aside / "run.json").read_text())["settings"]["model_weights"] == "v1"
    assert json.loads((out / "run.json").read_text())["settings"]["model_weights"] == "v2"
