"""chainlab quantize / quantize_gptq: a real GPTQ run on CPU, overwrite safety, calibration files."""

from __future__ import annotations

import json
import sys

import pytest

from chainlab.cli import main
from chainlab.models.quantize import quantize_gptq, read_calibration_file


@pytest.fixture
def calibration(tiny_calibration_texts):
    return tiny_calibration_texts


def test_cli_quantize_writes_a_loadable_checkpoint(tiny_model_dir, calibration, tmp_path, capsys):
    calib = tmp_path / "calib.txt"
    calib.write_text("\n".join(calibration) + "\n\n")
    out = tmp_path / "q4"
    args = ["quantize", "--model", str(tiny_model_dir), "--bits", "4", "--group-size", "32"]
    code = main([*args, "--out", str(out), "--calibration", str(calib), "--device", "cpu"])
    assert code == 0
    assert str(out) in capsys.readouterr().out
    cfg = json.loads((out / "config.json").read_text())["quantization_config"]
    assert (cfg["quant_method"], cfg["bits"], cfg["group_size"], cfg["desc_act"]) == ("gptq", 4, 32, False)
    assert (out / "tokenizer.json").exists()
    assert not list(tmp_path.glob(".q4.*"))  # no temp dir left behind

    from chainlab.llms import load_llm

    llm = load_llm(out, device="cpu", max_new_tokens=4)
    assert isinstance(llm.invoke("hello world"), str)

    # a second run refuses to overwrite without --overwrite, and works with it
    again = [*args, "--out", str(out), "--calibration", str(calib), "--device", "cpu"]
    assert main(again) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*again, "--overwrite"]) == 0


def test_refuses_existing_dirs(tiny_model_dir, calibration, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite"):
        quantize_gptq(tiny_model_dir, busy, calibration_texts=calibration)
    with pytest.raises(FileExistsError, match="refusing"):
        quantize_gptq(tiny_model_dir, busy, calibration_texts=calibration, overwrite=True)
    assert (busy / "notes.txt").exists()
    with pytest.raises(ValueError, match="overwrite the model"):
        quantize_gptq(tiny_model_dir, tiny_model_dir, calibration_texts=calibration, overwrite=True)


def test_bad_arguments(tiny_model_dir, calibration, tmp_path):
    with pytest.raises(ValueError, match="bits"):
        quantize_gptq(tiny_model_dir, tmp_path / "o", bits=5, calibration_texts=calibration)
    with pytest.raises(ValueError, match="group_size"):
        quantize_gptq(tiny_model_dir, tmp_path / "o", group_size=0, calibration_texts=calibration)
    with pytest.raises(ValueError, match="calibration"):
        quantize_gptq(tiny_model_dir, tmp_path / "o", calibration_texts=["", "  "])


def test_calibration_files(tmp_path):
    txt = tmp_path / "c.txt"
    txt.write_text("one\n\ntwo\n")
    assert read_calibration_file(txt) == ["one", "two"]
    jl = tmp_path / "c.jsonl"
    jl.write_text('"a b"\n{"text": "c d"}\n')
    assert read_calibration_file(jl) == ["a b", "c d"]
    jl.write_text('{"prompt": "x"}\n')
    with pytest.raises(ValueError, match="text"):
        read_calibration_file(jl)
    with pytest.raises(FileNotFoundError):
        read_calibration_file(tmp_path / "missing.txt")


def test_cli_needs_calibration_when_default_texts_unavailable(monkeypatch, tiny_model_dir, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "chainlab.models.tiny_data", None)
    code = main(["quantize", "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--calibration" in capsys.readouterr().err


def test_a_quantized_chainlab_model_keeps_its_training_record(tiny_model_dir, calibration, tmp_path):
    """The GPTQ variant carries its source's training summary, so ``eval-tiny`` reads the judge
    layout the source was trained on (not ``plain``)."""
    import shutil

    from chainlab.models.eval_skills import judge_layout

    src = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, src)
    summary = {"examples": 36, "config": {"judge_format": "compared"}, "base": {"examples": 52}}
    (src / "training_summary.json").write_text(json.dumps(summary))
    out = quantize_gptq(src, tmp_path / "q4", bits=4, group_size=32, calibration_texts=calibration, device="cpu")
    assert json.loads((out / "training_summary.json").read_text()) == summary
    assert judge_layout(str(out)) == "compared"
    # a model without a record (e.g. from the Hub) gets none
    bare = quantize_gptq(tiny_model_dir, tmp_path / "bare", bits=4, group_size=32, calibration_texts=calibration,
                         device="cpu")  # fmt: skip
    assert not any((bare / name).exists() for name in ("training_summary.json", "training_log.json"))
