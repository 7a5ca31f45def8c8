"""``install_tiny.training_summary``: a continued run keeps the summaries of every earlier stage."""

import json

import pytest

from chainlab.models.install_tiny import training_summary
from chainlab.models.model_card import training_stages


def _log(run, examples, init_from=None):
    run.mkdir(parents=True)
    config = {"examples": examples, **({"init_from": str(init_from)} if init_from else {})}
    log = {"examples": examples, "config": config, "history": [{"step": 1, "loss": 1.0}]}
    (run / "training_log.json").write_text(json.dumps(log))


def test_three_stages_nest_without_history(tmp_path):
    base, stage2, final = tmp_path / "base", tmp_path / "stage2", tmp_path / "final"
    _log(base, 100)
    _log(stage2, 28, init_from=base)
    _log(final, 14, init_from=stage2)
    summary = training_summary(final)
    assert [s["examples"] for s in training_stages(summary)] == [100, 28, 14]
    assert not any("history" in s for s in training_stages(summary))
    assert "base" not in summary["base"]["base"]


def test_an_installed_init_model_gives_its_summary(tmp_path):
    """An earlier stage taken from git has ``training_summary.json`` (with its own bases), no log."""
    installed = tmp_path / "stage2"
    installed.mkdir()
    nested = {"examples": 28, "config": {"examples": 28, "init_from": "runs/v5"},
              "base": {"examples": 100, "config": {"examples": 100}}}  # fmt: skip
    (installed / "training_summary.json").write_text(json.dumps(nested))
    _log(tmp_path / "final", 14, init_from=installed)
    summary = training_summary(tmp_path / "final")
    assert [s["examples"] for s in training_stages(summary)] == [100, 28, 14]


def test_a_missing_earlier_stage_is_named(tmp_path):
    _log(tmp_path / "final", 14, init_from=tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=r"gone, which holds neither training_log.json nor"):
        training_summary(tmp_path / "final")


def test_shipped_weights_fit_the_size_cap():
    """Issue #3: every packaged variant together stays within 25 MB in git (and ships safetensors
    only, no pickles)."""
    from chainlab.models.registry import WEIGHTS_DIR

    files = [f for f in WEIGHTS_DIR.rglob("*") if f.is_file()]
    assert {"chainlab-tiny", "chainlab-tiny-gptq", "chainlab-tiny-arith"} <= {f.parent.name for f in files}
    assert sum(f.stat().st_size for f in files) <= 25_000_000
    assert not [f for f in files if f.suffix in (".bin", ".pt", ".pkl", ".pth")]


def test_a_gptq_build_ships_its_training_summary_and_drops_a_stale_one(tmp_path):
    from chainlab.models.install_tiny import SHIPPED, install

    build, weights = tmp_path / "q4", tmp_path / "weights"
    build.mkdir()
    for name in SHIPPED["gptq"][1]:
        (build / name).write_text("{}")
    (build / "training_summary.json").write_text(json.dumps({"config": {"judge_format": "compared"}}))
    dest = install(build, "gptq", weights)
    assert json.loads((dest / "training_summary.json").read_text())["config"]["judge_format"] == "compared"
    (build / "training_summary.json").unlink()  # a build of a model without a record
    install(build, "gptq", weights)
    assert not (dest / "training_summary.json").exists()
