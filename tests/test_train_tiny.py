"""``chainlab train-tiny``: a real (very small) run, refusal to overwrite, bad data, resume."""

import json

import pytest
from safetensors.torch import load_file

from chainlab.cli import main

SMALL = ["--examples", "48", "--layers", "1", "--hidden-size", "32", "--batch-tokens", "1024",
         "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "model"
    assert main(["train-tiny", "--out", str(out), *SMALL]) == 0
    return out


def test_outputs(trained):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "loss_curve.png",
                 "training_log.json", "chat_template.jinja"):
        assert (trained / name).exists(), name
    log = json.loads((trained / "training_log.json").read_text())
    assert log["steps"] == len(log["history"]) > 0
    assert not (trained / "checkpoint").exists()
    assert (trained / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refuses_to_overwrite(trained, capsys):
    assert main(["train-tiny", "--out", str(trained), *SMALL]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_missing_and_malformed_data(tmp_path, capsys):
    assert main(["train-tiny", "--out", str(tmp_path / "a"), "--data", str(tmp_path / "nope.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "spans": []}\n{"oops": 1}\n')
    assert main(["train-tiny", "--out", str(tmp_path / "b"), "--data", str(bad), *SMALL]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_resume_after_interruption_matches_uninterrupted(tmp_path, trained):
    out = tmp_path / "resumed"
    data = next(trained.glob("data-*.jsonl"))
    args = ["train-tiny", "--out", str(out), "--data", str(data), *SMALL, "--checkpoint-every", "1"]
    steps = json.loads((trained / "training_log.json").read_text())["steps"]
    assert steps >= 3
    assert main([*args, "--stop-after", "2"]) == 130  # like Ctrl-C
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert main(args) == 0
    a, b = load_file(out / "model.safetensors"), load_file(trained / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k].float() - b[k].float()).abs().max() < 1e-2, k


def test_init_from_continues_a_model_with_its_tokenizer(tmp_path, trained, capsys):
    out = tmp_path / "continued"
    data = next(trained.glob("data-*.jsonl"))
    args = ["train-tiny", "--out", str(out), "--data", str(data), "--threads", "1",
            "--batch-tokens", "1024", "--init-from", str(trained)]
    assert main(args) == 0
    log = json.loads((out / "training_log.json").read_text())
    first = json.loads((trained / "training_log.json").read_text())
    assert log["config"]["init_from"] == str(trained)
    assert log["config"]["hidden_size"] == 32 and log["config"]["layers"] == 1  # the model's own
    assert (out / "tokenizer.json").read_text() == (trained / "tokenizer.json").read_text()
    # same data, same batch order: every step starts from where the first run's weights ended
    pairs = list(zip(log["history"], first["history"], strict=True))
    assert all(a["loss"] < b["loss"] for a, b in pairs)
    assert main(["train-tiny", "--out", str(tmp_path / "x"), "--init-from", str(tmp_path / "nope")]) == 2
    assert "no config.json" in capsys.readouterr().err
