"""``chainlab demo``: the compare command it runs, and a clear failure without chainlab-tiny."""

from __future__ import annotations

import argparse

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
                    "io,cot,cot-sc,tot", "--limit", "100", "--out", "runs/demo", "--resume"]  # fmt: skip
