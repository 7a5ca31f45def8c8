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


def test_self_sample_records_pair_own_mistakes_with_a_right_solution():
    from chainlab.models.arith_self_samples import self_sample_records
    from chainlab.tasks.arith import generate_problems, step_by_step_solution, verify_check

    p, q = generate_problems(2, 0, split="train")
    right = step_by_step_solution(p)
    last = right.splitlines()[-2]  # the last step line: make its result wrong
    a, _, b = last.rpartition("= ")
    wrong = right.replace(last, f"{a}= {int(b) + 4}").replace(
        f"Answer: {p.answer}", f"Answer: {p.answer + 4}"
    )
    samples = [[right, wrong, wrong, right], [step_by_step_solution(q)] * 4]
    recs, stats = self_sample_records([p, q], samples)
    assert stats == {
        "problems": 2, "samples": 8, "wrong_samples": 2, "problems_with_wrong": 1, "records": 2
    }
    assert {r["key"] for r in recs} == {p.key}  # the all-right problem gives nothing
    by_text = {r["prompt"]: r for r in recs}
    assert len(by_text) == 2 and all(r["source"] == "self" for r in recs)
    verdicts = sorted(r["completion"].splitlines()[-1] for r in recs)
    assert verdicts == ["Verdict: correct", "Verdict: incorrect"]
    texts = {r["prompt"].split("Solution:\n")[1].split(" [/INST]")[0]: r for r in recs}
    assert set(texts) == {right, wrong}
    assert all(r["completion"] == verify_check(t) for t, r in texts.items())
    only_wrong, _ = self_sample_records([p], [[wrong] * 4])  # no right sample: the reference one
    assert any(right in r["prompt"] for r in only_wrong)


def test_self_samples_from_the_shipped_adapter(tmp_path, capsys):
    out = tmp_path / "r2.jsonl"
    args = ["arith-data", "--out", str(out), "--n", "20", "--kinds", "steps=1"]
    args += ["--self-samples", "chainlab-tiny-arith", "--self-n", "24", "--self-k", "4"]
    args += ["--self-temperature", "1.5"]  # hot: some samples are surely wrong
    assert main(args) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    ordinary = [r for r in recs if r.get("source") != "self"]
    own = [r for r in recs if r.get("source") == "self"]
    assert len(ordinary) == 20 and own, capsys.readouterr().out
    assert {r["key"] for r in own}.isdisjoint(r["key"] for r in ordinary)
    assert all(r["kind"] == "verify" and r["prompt"].startswith("<s>[INST]") for r in own)
    assert any(r["completion"].endswith("Verdict: incorrect") for r in own)
    for r in own:
        template, nums = r["key"].split(":")
        assert split_of(template, [int(x) for x in nums.split(",")]) == "train"
    assert "appended" in capsys.readouterr().out
    bad = ["arith-data", "--out", str(tmp_path / "x.jsonl"), "--n", "5"]
    assert main([*bad, "--self-samples", str(tmp_path / "missing")]) == 2
    assert "--self-samples" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()  # a bad adapter fails before anything is written
