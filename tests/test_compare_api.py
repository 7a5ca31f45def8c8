"""``chainlab.eval.compare`` end to end on fake LLMs and a tiny fake task: batching, flushing,
resume after a crash, settings refusal, report numbers, exports, plot and ``assert_better``."""

from __future__ import annotations

import json

import pytest
from test_compare_fakes import FakeLLM, MultiFinal, game24_responder, sum_responder, sum_task

from chainlab.chains import chain_of_thought, direct, self_consistency, tot_search
from chainlab.eval import Report, assert_better, compare, load_report
from chainlab.eval.problems import generated_game24
from chainlab.eval.store import SettingsMismatchError


def lines(d) -> list[dict]:
    return [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]


def two_strategies(good: FakeLLM, bad: FakeLLM, task):
    return {"good": direct(good, task=task), "bad": direct(bad, task=task)}


def test_compare_flow_files_and_report(tmp_path):
    task, problems = sum_task(8)
    good = FakeLLM(responder=sum_responder())
    bad = FakeLLM(responder=sum_responder(wrong_every=2))  # wrong for a = 2, 4, 6, 8
    report = compare(
        None, task, two_strategies(good, bad, task), problems, out_dir=tmp_path, batch_size=3,
        progress=False,
    )  # fmt: skip
    # chunks of 3 problems: each is one batched LLM call
    assert [len(c) for c in good.calls] == [3, 3, 2]
    recs = lines(tmp_path)
    assert len(recs) == 16 and {r["strategy"] for r in recs} == {"good", "bad"}
    first = recs[0]
    for key in ("problem_id", "strategy", "answer", "correct", "any_correct", "usage", "trace"):
        assert key in first
    assert first["trace"] and first["usage"]["prompt_tokens"] > 0
    g, b = report["good"], report["bad"]
    assert (g.correct, g.n_scored, g.accuracy) == (8, 8, 1.0)
    assert (b.correct, b.accuracy) == (4, 0.5)
    assert b.ci_low == pytest.approx(0.2152, abs=1e-3) and b.ci_high == pytest.approx(
        0.7848, abs=1e-3
    )
    assert g.mean_calls == 1 and g.mean_prompt_tokens == 10 and g.mean_completion_tokens == 3
    assert g.any_accuracy is None  # one final per problem
    pair = report.pair("good", "bad")
    assert (pair.a_only, pair.b_only, pair.n) == (4, 0, 8)
    assert pair.p_value == pytest.approx(0.125)
    assert report.pair("bad", "good").b_only == 4
    for name in ("run.json", "summary.json", "summary.csv", "accuracy_vs_cost.png"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "accuracy_vs_cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["strategies"][0]["name"] == "good"
    assert (tmp_path / "summary.csv").read_text().startswith("name,n,n_scored,correct,accuracy")
    loaded = load_report(tmp_path)
    assert loaded["bad"].correct == 4 and loaded.names == ["good", "bad"]


def test_report_exports():
    task, problems = sum_task(4)
    llm = FakeLLM(responder=sum_responder(wrong_every=3))
    report = compare(llm, task, {"io": lambda llm, task: direct(llm, task=task)}, problems,
                     progress=False)  # fmt: skip
    df = report.to_dataframe()
    assert list(df.index) == ["io"] and df.loc["io", "correct"] == 3
    md = report.to_markdown()
    assert "| io | 75.0% (3/4) |" in md
    assert json.loads(report.to_json())["strategies"][0]["accuracy"] == 0.75
    assert "io" in str(report)


def test_resume_after_truncated_line_no_loss_no_duplicates(tmp_path):
    task, problems = sum_task(6)
    llm = FakeLLM(responder=sum_responder())
    strategies = {"io": direct(llm, task=task)}
    compare(llm, task, strategies, problems, out_dir=tmp_path, batch_size=2, progress=False)
    path = tmp_path / "results.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # simulated crash mid-write of the last line
    llm.calls.clear()
    with pytest.warns(UserWarning, match="truncated"):
        report = compare(llm, task, strategies, problems, out_dir=tmp_path, batch_size=2,
                         progress=False)  # fmt: skip
    assert llm.calls and len(llm.calls[0]) == 1  # only the lost problem ran again
    recs = lines(path.parent)
    assert sorted(r["problem_id"] for r in recs) == [f"p{i}" for i in range(6)]
    assert report["io"].n == 6 and report["io"].correct == 6
    llm.calls.clear()
    compare(llm, task, strategies, problems, out_dir=tmp_path, progress=False)
    assert llm.calls == [] and len(lines(tmp_path)) == 6  # nothing left to do


def test_crash_mid_run_keeps_finished_chunks_and_resume_finishes(tmp_path):
    task, problems = sum_task(6)
    llm = FakeLLM(responder=sum_responder(), fail_on=3)  # the third chunk's call fails
    strategies = {"io": direct(llm, task=task)}
    with pytest.raises(Exception, match="fake LLM failure"):
        compare(llm, task, strategies, problems, out_dir=tmp_path, batch_size=2, progress=False)
    assert [r["problem_id"] for r in lines(tmp_path)] == ["p0", "p1", "p2", "p3"]
    llm.fail_on = None
    llm.calls.clear()
    report = compare(llm, task, strategies, problems, out_dir=tmp_path, batch_size=2,
                     progress=False)  # fmt: skip
    assert [len(c) for c in llm.calls] == [2]
    assert report["io"].n == 6 and len(lines(tmp_path)) == 6


def test_keyboard_interrupt_propagates_after_flushing(tmp_path):
    task, problems = sum_task(4)
    llm = FakeLLM(responder=sum_responder(), fail_on=2, fail_with=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        compare(llm, task, {"io": direct(llm, task=task)}, problems, out_dir=tmp_path,
                batch_size=2, progress=True)  # fmt: skip
    assert len(lines(tmp_path)) == 2


def test_on_error_record_stores_failures(tmp_path):
    task, problems = sum_task(3)
    llm = FakeLLM(responder=sum_responder(), fail_on=1)
    report = compare(llm, task, {"io": direct(llm, task=task)}, problems, out_dir=tmp_path,
                     progress=False, on_error="record", plot=False)  # fmt: skip
    recs = lines(tmp_path)
    assert len(recs) == 3 and all(r["error"] and r["correct"] is False for r in recs)
    assert report["io"].errors == 3


def test_settings_mismatch_is_refused(tmp_path):
    task, problems = sum_task(3)
    llm = FakeLLM(responder=sum_responder())
    compare(llm, task, {"io": direct(llm, task=task)}, problems, out_dir=tmp_path, progress=False,
            plot=False)  # fmt: skip
    with pytest.raises(SettingsMismatchError, match="strategies"):
        compare(llm, task, {"io": direct(llm, task=task, max_new_tokens=5)}, problems,
                out_dir=tmp_path, progress=False)  # fmt: skip
    with pytest.raises(SettingsMismatchError, match="seed"):
        compare(llm, task, {"io": direct(llm, task=task)}, problems, seed=1, out_dir=tmp_path,
                progress=False)  # fmt: skip
    with pytest.raises(SettingsMismatchError, match="problems"):
        compare(llm, task, {"io": direct(llm, task=task)}, problems[:2], out_dir=tmp_path,
                progress=False)  # fmt: skip
    report = compare(llm, task, {"io": direct(llm, task=task)}, problems[:2], out_dir=tmp_path,
                     progress=False, overwrite=True, plot=False)  # fmt: skip
    assert report["io"].n == 2 and len(lines(tmp_path)) == 2


def test_seed_is_given_to_strategies_and_their_base():
    task, problems = sum_task(2)
    llm = FakeLLM(responder=sum_responder())
    sc = self_consistency(chain_of_thought(llm, task=task), k=3)
    report = compare(llm, task, {"sc": sc}, problems, seed=7, progress=False)
    assert sc.seed is None  # the caller's strategy is not modified
    assert report["sc"].n == 2


def test_any_of_b_and_duplicate_ids():
    task, problems = sum_task(4)  # gold answers 1, 4, 7, 10
    multi = MultiFinal(task, [1, 0, 0, 0], [[], [4], [9], [0, 10]])
    single = MultiFinal(task, [1, 4, 0, 0])
    report = compare(None, task, {"multi": multi, "single": single}, problems, progress=False,
                     batch_size=3)  # fmt: skip
    m = report["multi"]
    assert (m.correct, m.any_correct, m.max_finals) == (1, 3, 3)
    assert m.any_accuracy == 0.75 and report["single"].any_accuracy is None
    assert multi.batches == [3, 1]
    with pytest.raises(ValueError, match="same id"):
        compare(None, task, {"m": multi}, [problems[0], problems[0]], progress=False)


def test_bad_arguments():
    task, problems = sum_task(2)
    with pytest.raises(ValueError, match="strategy"):
        compare(None, task, {}, problems)
    with pytest.raises(ValueError, match="batch_size"):
        compare(None, task, {"m": MultiFinal(task, [1, 4])}, problems, batch_size=0)
    with pytest.raises(TypeError, match="Runnable"):
        compare(None, task, {"m": 3}, problems)


def test_game24_tot_beats_io_with_assert_better(tmp_path):
    llm = FakeLLM(responder=game24_responder(io_correct=False))
    problems = generated_game24(6)
    report = compare(
        llm, "game24",
        {"io": direct(llm, task="game24"), "tot": tot_search(llm, "game24", b=2, n_evaluate_sample=1)},
        problems, out_dir=tmp_path, batch_size=3, progress=False,
    )  # fmt: skip
    assert report["tot"].accuracy == 1.0 and report["io"].accuracy == 0.0
    assert report["tot"].mean_tokens > report["io"].mean_tokens
    assert_better(report, "tot", "io", alpha=0.05)  # 6 vs 0: p = 2/64
    with pytest.raises(AssertionError, match=r"io: 0/6 = 0.0%.*p = 0.03125"):
        assert_better(report, "io", "tot")
    with pytest.raises(AssertionError, match="not significantly better"):
        assert_better(report, "tot", "io", alpha=0.01)
    with pytest.raises(KeyError):
        assert_better(report, "tot", "nope")


def test_report_from_records_without_scores():
    recs = [
        {"problem_id": "a", "strategy": "x", "correct": None, "usage": {}},
        {"problem_id": "a", "strategy": "y", "correct": True, "usage": {"calls": 2}},
    ]
    report = Report.from_records(recs)
    assert report["x"].accuracy is None and report["x"].n_scored == 0
    assert report.pair("x", "y").n == 0 and report.pair("x", "y").p_value == 1.0
    assert report["y"].mean_calls == 2


def test_a_local_llm_with_other_weights_does_not_resume_the_run(tmp_path, tiny_model_dir):
    """compare() stores a LocalLLM's fingerprint (config, tokenizer, weights): the same model
    loaded again resumes the stored run; the model after one more training step does not."""
    import torch

    from chainlab.llms import load_llm

    task, problems = sum_task(2)

    def run(llm, **kw):
        return compare(llm, task, {"io": direct(llm, task=task, max_new_tokens=4)}, problems,
                       out_dir=tmp_path, progress=False, plot=False, **kw)  # fmt: skip

    first = load_llm(tiny_model_dir, device="cpu")
    run(first)
    stored = json.loads((tmp_path / "run.json").read_text())["settings"]
    assert stored["model_fingerprint"] == first.fingerprint()
    assert run(load_llm(tiny_model_dir, device="cpu"))["io"].n == 2  # same weights: resumed
    assert len(lines(tmp_path)) == 2
    changed = load_llm(tiny_model_dir, device="cpu")
    with torch.no_grad():
        next(changed.model.parameters()).add_(1e-3)
    with pytest.raises(SettingsMismatchError, match="model_fingerprint"):
        run(changed)
