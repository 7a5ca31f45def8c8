"""results.jsonl robustness (truncated last line, corruption, duplicates) and run.json settings."""

from __future__ import annotations

import json

import pytest

from chainlab.eval.store import (
    ResultsFileError,
    ResultStore,
    RunDirError,
    SettingsMismatchError,
    check_settings,
)


def rec(pid: str, strategy: str = "s", correct: bool = True) -> dict:
    return {"problem_id": pid, "strategy": strategy, "correct": correct, "usage": {}}


def test_append_and_read(tmp_path):
    store = ResultStore(tmp_path)
    store.append([rec("a"), rec("b")])
    store.append([rec("c")])
    assert [r["problem_id"] for r in store.records()] == ["a", "b", "c"]
    assert store.done() == {("a", "s"), ("b", "s"), ("c", "s")}


def test_truncated_last_line_is_skipped_with_warning_and_repaired(tmp_path):
    store = ResultStore(tmp_path)
    store.append([rec("a"), rec("b")])
    path = tmp_path / "results.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])  # cut the last line mid-way
    with pytest.warns(UserWarning, match="truncated"):
        assert [r["problem_id"] for r in store.records()] == ["a"]
    with pytest.warns(UserWarning):
        store.repair()
    store.append([rec("b")])
    lines = path.read_text().splitlines()
    assert [json.loads(x)["problem_id"] for x in lines] == ["a", "b"]


def test_last_line_without_newline_is_kept_and_terminated(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(rec("a")) + "\n" + json.dumps(rec("b")))
    store = ResultStore(tmp_path)
    store.repair()
    store.append([rec("c")])
    assert [r["problem_id"] for r in store.records()] == ["a", "b", "c"]


def test_corrupted_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(rec("a")) + "\n{oops\n" + json.dumps(rec("b")) + "\n")
    with pytest.raises(ResultsFileError, match=r"results.jsonl:2"):
        ResultStore(tmp_path).records()


def test_duplicates_keep_the_first(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(
        json.dumps(rec("a", correct=True)) + "\n" + json.dumps(rec("a", correct=False)) + "\n"
    )
    with pytest.warns(UserWarning, match="duplicate"):
        recs = ResultStore(tmp_path).records()
    assert len(recs) == 1 and recs[0]["correct"] is True


def test_in_memory_store():
    store = ResultStore(None)
    store.append([rec("a")])
    assert store.path is None and store.done() == {("a", "s")}


def test_settings_new_same_mismatch_overwrite(tmp_path):
    d = tmp_path / "run"
    assert check_settings(d, {"x": 1}, resume=False, overwrite=False) == 0
    assert json.loads((d / "run.json").read_text())["settings"] == {"x": 1}
    ResultStore(d).append([rec("a")])
    with pytest.raises(RunDirError, match="--resume"):
        check_settings(d, {"x": 1}, resume=False, overwrite=False)
    assert check_settings(d, {"x": 1}, resume=True, overwrite=False) == 1
    with pytest.raises(SettingsMismatchError, match=r"x: 1 \(stored\) != 2 \(now\)"):
        check_settings(d, {"x": 2}, resume=True, overwrite=False)
    assert check_settings(d, {"x": 2}, resume=False, overwrite=True) == 0
    assert not (d / "results.jsonl").exists()
    assert json.loads((d / "run.json").read_text())["settings"] == {"x": 2}


def test_settings_without_results_are_replaced(tmp_path):
    check_settings(tmp_path, {"x": 1}, resume=False, overwrite=False)
    assert check_settings(tmp_path, {"x": 2}, resume=False, overwrite=False) == 0
    assert json.loads((tmp_path / "run.json").read_text())["settings"] == {"x": 2}


def test_results_without_run_json_are_refused(tmp_path):
    ResultStore(tmp_path).append([rec("a")])
    with pytest.raises(RunDirError, match="run.json"):
        check_settings(tmp_path, {"x": 1}, resume=True, overwrite=False)


def test_out_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        check_settings(f, {}, resume=False, overwrite=False)
