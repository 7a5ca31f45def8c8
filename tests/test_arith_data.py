"""``chainlab arith-data``: the adapter's SFT data file."""

import json

import pytest

from chainlab.cli import main
from chainlab.models.arith_data import parse_kinds
from chainlab.tasks.arith import split_of


def test_writes_train_split_records(tmp_path, capsys):
    out = tmp_path / "arith.jsonl"
    assert main(["arith-data", "--out", str(out), "--n", "60", "--kinds", "steps=1,verify=1"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    verify = [r for r in recs if r["kind"] == "verify"]
    steps = [r for r in recs if r["kind"] == "steps"]
    assert len(steps) + len(verify) // 2 == 60 and len(verify) % 2 == 0 and steps
    for a, b in zip(verify[::2], verify[1::2], strict=True):  # pairs: same problem, both verdicts
        assert a["key"] == b["key"] and a["prompt"] != b["prompt"]
        verdicts = {r["completion"].splitlines()[-1] for r in (a, b)}
        assert verdicts == {"Verdict: correct", "Verdict: incorrect"}
    for r in recs:
        template, nums = r["key"].split(":")
        assert split_of(template, [int(x) for x in nums.split(",")]) == "train"
        assert r["prompt"].startswith("<s>[INST]") and r["completion"]
    again = tmp_path / "again.jsonl"
    main(["arith-data", "--out", str(again), "--n", "60", "--kinds", "steps=1,verify=1"])
    assert again.read_text() == out.read_text()  # reproducible
    single = tmp_path / "single.jsonl"
    main(["arith-data", "--out", str(single), "--n", "60", "--kinds", "verify=1", "--no-verify-pairs"])
    assert len(single.read_text().splitlines()) == 60


def test_refuses_existing_file_and_bad_kinds(tmp_path, capsys):
    out = tmp_path / "a.jsonl"
    out.write_text("x")
    assert main(["arith-data", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["arith-data", "--out", str(tmp_path / "b.jsonl"), "--kinds", "nope=1"]) == 2
    assert "Unknown kinds" in capsys.readouterr().err
    with pytest.raises(ValueError, match="NAME=WEIGHT"):
        parse_kinds("steps=x")
