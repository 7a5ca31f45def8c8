"""chainlab.tasks: registry, data loading (read in place), answer normalization, scoring, search protocol."""

from __future__ import annotations

import json

import pytest

from chainlab.prompts import game24 as g24
from chainlab.tasks import get_task, task_names
from chainlab.tasks.answers import (
    extract_number,
    normalize_expression,
    normalize_number,
    normalize_text,
)
from chainlab.tasks.data import data_dir
from chainlab.tasks.game24 import Game24SearchTask, Game24State
from chainlab.tasks.jsonl import JsonlTask

HAS_DATA = (data_dir() / "game24" / "24.csv").exists()
needs_data = pytest.mark.skipif(not HAS_DATA, reason="benchmark data directory not available")


@pytest.mark.parametrize(
    "text, want",
    [
        ("18", "18"),
        ("18.0", "18"),
        ("$1,450,000", "1450000"),
        ("-3.50 dollars", "-3.5"),
        ("none", None),
        (7.0, "7"),
    ],
)
def test_normalize_number(text, want):
    assert normalize_number(text) == want


def test_extract_number_prefers_answer_cues():
    assert extract_number("2 + 3 = 5 so #### 1,018") == "1018"
    assert extract_number("I think 4, the answer is 12 apples. Check: 3") == "12"
    assert extract_number("first 3 then 9") == "9"
    assert extract_number("") is None


def test_normalize_expression_and_text():
    assert normalize_expression("(5*(10-4)) -6 = 24") == "(5 * (10 - 4)) - 6"
    assert normalize_expression("Answer: 4 × 6") == "4 * 6"
    assert normalize_expression("four times six") is None
    assert normalize_text('  "Paris." ') == "paris"


def test_registry_lists_valid_names():
    assert {"game24", "gsm8k", "svamp", "arith", "jsonl"} <= set(task_names())
    with pytest.raises(ValueError, match="valid names: arith, game24"):
        get_task("chess")
    task = get_task("game24")
    assert get_task(task) is task and get_task("Game-of-24").name == "game24"


@needs_data
def test_game24_test_split_is_data_indices_900_to_999():
    task = get_task("game24")
    probs = task.load()
    assert len(probs) == 100
    assert (probs[0]["id"], probs[0]["numbers"], probs[0]["rank"]) == (900, "4 5 6 10", 901)
    assert probs[-1]["numbers"] == "4 9 10 13"
    assert len(task.load("all")) == 1362 and task.load(start=0, end=2)[1]["numbers"] == "1 1 11 11"
    with pytest.raises(ValueError, match="split"):
        task.load("train")


def test_game24_scoring_is_the_papers():
    task = get_task("game24")
    p = task.make_problem("4 5 6 10")
    assert task.score(p, "(5 * (10 - 4)) - 6")
    assert task.score(p, "Answer: (5 * (10 - 4)) - 6 = 24")
    assert not task.score(p, "4 * 6")  # numbers not used exactly once
    assert not task.score(p, "__import__('os')") and not task.score(p, None)
    assert task.extract_answer("steps...\nAnswer: 4 * 6 = 24") == "4 * 6"
    assert task.extract_answer("(10 - 4) * (6 - 5) * 4 = 24") == "(10 - 4) * (6 - 5) * 4"
    assert task.extract_answer("no idea") is None
    assert task.gold(p) is None and task.checks_answers


def test_game24_search_protocol():
    st = Game24SearchTask()
    p = {"numbers": "4 5 6 10"}
    root = st.root(p)
    assert "List possible next steps" in st.propose_prompt(p, root)
    exp = st.parse_proposals(
        p, root, "4 + 5 = 9 (left: 6 9 10)\n4 + 5 = 9 (left: 6 9 10)\n1 + 1 = 2 (left: 2)\n"
    )
    assert len(exp.children) == 1 and len(exp.errors) == 1
    grouped = st.parse_proposals(p, root, "4 5 | 6 10\n4 + 5 = 9 (left: 6 9 10)\n4 6 | 5 10\n")
    assert len(grouped.children) == 1 and not grouped.errors  # pair headers are skipped
    # prefilled with the first line's numbers (chainlab-tiny restates them on every line)
    assert st.propose_prompt(p, root).endswith("Input: 4 5 6 10 [/INST] 4 5 6 10 |")
    plain = Game24SearchTask(restate_proposals=False)
    assert plain.propose_prompt(p, root).endswith("Input: 4 5 6 10 [/INST]")
    assert g24.propose_prompt("4 5 6 10", restate=False) == plain.propose_prompt(p, root)
    assert "restate_proposals=False" in repr(plain) and "restate" not in repr(st)
    restated = st.parse_proposals(p, root, " 4 + 5 = 9 (left: 6 9 10)\n4 5 6 10 | 4 * 6 = 24 (left: 5 10 24)\n")
    assert len(restated.children) == 2 and not restated.errors
    with pytest.raises(TypeError, match="restate_proposals"):
        Game24SearchTask(restate_proposals="yes")
    # a final answer is judged with the Input line prefilled (numbers-first judge layout)
    first = Game24SearchTask(judge_input_first=True)
    done = Game24State(root.steps, root.left, "(10 - 4) * (5 - 1)")
    assert first.value_prompt(p, done) == g24.judge_prompt("4 5 6 10", "(10 - 4) * (5 - 1)", input_first=True)
    assert first.value_prompt(p, done).endswith("[/INST] Input: 4 5 6 10\n") and "judge_input_first=True" in repr(first)
    assert not st.value_prompt(p, done).endswith("\n") and "judge_input_first" not in repr(st)
    with pytest.raises(TypeError, match="judge_input_first"):
        Game24SearchTask(judge_input_first=1)
    s1 = exp.children[0]
    assert st.value_prompt(p, s1).endswith("Input: 6 9 10 [/INST]")
    assert (
        st.parse_value(p, s1, "likely").value == 1.0 and st.parse_value(p, s1, "??").value is None
    )
    s3 = Game24State(s1.steps, (st.root({"numbers": "24"}).left[0],))
    assert st.value_prompt(p, s3) is None and st.static_value(p, s3, 3) == 60.0
    assert "Combine two numbers" in st.propose_prompt(p, s3)
    assert st.propose_prompt(p, Game24State((), (st.root({"numbers": "23"}).left[0],))) is None
    fin = st.parse_proposals(p, s3, "Answer: (5 * (10 - 4)) - 6 = 24").children[0]
    assert st.is_final(p, fin) and st.answer(p, fin) == "(5 * (10 - 4)) - 6"
    assert "Check this answer" in st.value_prompt(p, fin)
    assert st.parse_value(p, fin, "Verdict: correct").value == 20.0
    assert st.parse_proposals(p, s3, "no answer").errors


@needs_data
def test_gsm8k_and_svamp_load_in_place():
    g = get_task("gsm8k")
    first = g.load(limit=1)[0]
    assert first["answer"] == "18" and "Janet" in first["question"]
    assert g.score(first, "so she makes $18.00 a day. The answer is 18.")
    s = get_task("svamp")
    probs = s.load()
    assert len(probs) == 1000 and probs[0]["answer"] == "51"
    assert probs[0]["question"].endswith("How much do you have to pay to buy each pack?")
    with pytest.raises(ValueError, match="split"):
        g.load("dev")


def test_missing_data_names_the_env_var(tmp_path):
    with pytest.raises(FileNotFoundError, match="CHAINLAB_DATA"):
        get_task("gsm8k", data_root=tmp_path).load()


def test_jsonl_task_matchers(tmp_path):
    path = tmp_path / "qa.jsonl"
    rows = [
        {"q": "Capital of France?", "a": "Paris"},
        {"q": "2+2?", "a": "4.0"},
        {"q": "color?", "a": "red|blue"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    exact = get_task("jsonl", path=path, question_field="q", answer_field="a")
    probs = exact.load()
    assert probs[0]["question"] == "Capital of France?" and exact.name == "qa"
    assert exact.extract_answer("Hmm.\nThe answer is paris.") == "paris"
    assert exact.score(probs[0], "Paris.") and not exact.score(probs[0], "Lyon")
    numeric = JsonlTask(path, "q", "a", matcher="numeric")
    assert (
        numeric.score(numeric.load()[1], "It is 4") and numeric.load(limit=1) == numeric.load()[:1]
    )
    regex = JsonlTask(path, "q", "a", matcher="regex")
    assert regex.score(regex.load()[2], regex.extract_answer("Answer: Blue")) and not regex.score(
        regex.load()[2], "green"
    )
    with pytest.raises(ValueError, match="matcher"):
        JsonlTask(path, matcher="fuzzy")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "answer": 1}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        JsonlTask(bad).load()
    with pytest.raises(KeyError, match="lacks the field"):
        JsonlTask(path).load()


def test_arith_task_uses_the_generator_lazily():
    task = get_task("arith", n=3, seed=1)
    probs = task.load()
    assert len(probs) == 3 and all(isinstance(p["question"], str) for p in probs)
    assert task.score(probs[0], f"Answer: {probs[0]['answer']}")
    assert "step by step" in task.cot_prompt(probs[0])
    assert task.parse_judge("correct") is True


# ---------------------------------------------------------------- one data-dir finder


def test_data_finder_order_env_then_shared(tmp_path, monkeypatch):
    from chainlab.tasks import data

    shared, env = tmp_path / "shared", tmp_path / "env"
    (shared / "game24").mkdir(parents=True)
    (shared / "game24" / "24.csv").write_text("Rank,Puzzles\n1,1 1 4 6\n")
    (env / "gsm8k").mkdir(parents=True)
    (env / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n')
    monkeypatch.setattr(data, "SHARED_DATA", shared)
    monkeypatch.delenv("CHAINLAB_DATA", raising=False)
    assert data.data_dirs() == [shared] and data.data_dir() == shared
    monkeypatch.setenv("CHAINLAB_DATA", str(env))
    assert data.data_dirs() == [env, shared] and data.data_dir() == env
    assert data.find_data_file("gsm8k", "test.jsonl") == env / "gsm8k" / "test.jsonl"
    assert data.find_data_file("game24", "24.csv") == shared / "game24" / "24.csv"  # falls through
    assert data.find_data_file("svamp", "SVAMP.json") is None
    with pytest.raises(FileNotFoundError, match="CHAINLAB_DATA") as info:
        data.data_path("svamp", "SVAMP.json")
    assert str(env / "svamp" / "SVAMP.json") in str(info.value)
    assert str(shared / "svamp" / "SVAMP.json") in str(info.value)
    assert data.data_dirs(tmp_path / "x") == [tmp_path / "x"]  # an explicit root only
    # the tasks read through it
    assert get_task("game24").load("all")[0]["numbers"] == "1 1 4 6"
    assert get_task("gsm8k").load()[0]["answer"] == "1"


# ---------------------------------------------------------------- completion lengths, compose_answer


def test_game24_completion_lengths_reach_the_strategies():
    from langchain_core.language_models.fake import FakeListLLM

    from chainlab.chains import chain_of_thought, direct, few_shot

    llm = FakeListLLM(responses=["x"])
    assert direct(llm, "game24").max_new_tokens == 48
    assert few_shot(llm, examples=[{"question": "1 2 3 4", "answer": "x"}],
                    task="game24").max_new_tokens == 48  # fmt: skip
    assert chain_of_thought(llm, "game24").max_new_tokens == 128
    assert chain_of_thought(llm, "game24", max_new_tokens=300).max_new_tokens == 300
    cot = chain_of_thought(llm, "game24", max_new_tokens=300)
    assert "max_new_tokens" in cot.model_fields_set
    assert "max_new_tokens" not in chain_of_thought(llm, "game24").model_fields_set
    assert chain_of_thought(llm, "gsm8k").max_new_tokens == 256  # no hint: the generic default
    st = Game24SearchTask()
    p = {"numbers": "4 5 6 10"}
    root = st.root(p)
    s3 = st.parse_proposals(p, root, "4 * 6 = 24 (left: 5 10 24)").children[0]
    assert st.max_new_tokens("propose", p, root) >= 400
    assert st.max_new_tokens("value", p, s3) >= 160
    last = Game24State((), (st.root({"numbers": "24"}).left[0],))
    assert st.max_new_tokens("propose", p, last) == 128 == st.max_new_tokens("sample", p, root)
    fin = Game24State((), last.left, "4 * 6")
    assert st.max_new_tokens("value", p, fin) == 128 and st.max_new_tokens("vote", p, root) is None


def test_game24_compose_answer_static_expansion():
    p = {"numbers": "4 5 6 10"}
    paper, composing = Game24SearchTask(), Game24SearchTask(compose_answer=True)
    state = composing.root(p)
    for line in ("10 - 4 = 6 (left: 5 6 6)", "5 * 6 = 30 (left: 6 30)", "30 - 6 = 24 (left: 24)"):
        state = composing.parse_proposals(p, state, line).children[0]
    assert paper.static_expansion(p, state) is None  # the model writes it (paper)
    exp = composing.static_expansion(p, state)
    (fin,) = exp.children
    assert fin.composed and fin.answer == "(5 * (10 - 4)) - 6" and not exp.errors
    assert composing.is_final(p, fin) and composing.score(p, fin.answer)
    assert fin.text().endswith("Answer: (5 * (10 - 4)) - 6 = 24")
    assert composing.value_prompt(p, fin) is None  # correct by construction: no judge call
    assert composing.static_value(p, fin, 3) == 60.0
    assert composing.static_expansion(p, composing.root(p)) is None  # not at 24 yet
    assert composing.static_expansion(p, fin) is None  # already final
    dead = Game24State(state.steps[:2], (st_num := state.steps[1].result,))
    assert st_num != 24 and composing.static_expansion(p, dead) is None
    bad = composing.static_expansion({"numbers": "1 2 3 4"}, state)  # steps of another puzzle
    assert bad is not None and not bad.children and "cannot compose" in bad.errors[0]
    assert "compose_answer=True" in repr(composing)


# ---------------------------------------------------------------- CoT answers composed from steps

_GOOD_COT = "10 - 4 = 6 (left: 5 6 6)\n5 * 6 = 30 (left: 6 30)\n30 - 6 = 24 (left: 24)\n"


def test_steps_answer_needs_a_valid_chain_to_24():
    from chainlab.tasks.game24 import steps_answer

    assert steps_answer("4 5 6 10", _GOOD_COT + "Answer: (5 + 11) + (5 - 3) = 24") == (
        "(5 * (10 - 4)) - 6"
    )
    assert steps_answer([4, 5, 6, 10], _GOOD_COT) == "(5 * (10 - 4)) - 6"
    wrong_left = _GOOD_COT.replace("(left: 6 30)", "(left: 5 30)")
    assert steps_answer("4 5 6 10", wrong_left) is None  # a step that does not check
    assert steps_answer("4 5 6 10", _GOOD_COT.replace("30 - 6 = 24 (left: 24)", "30 + 6 = 36 (left: 36)")) is None
    assert steps_answer("4 5 6 10", "Answer: (5 * (10 - 4)) - 6 = 24") is None  # no steps
    assert steps_answer("1 2 3 4", _GOOD_COT) is None  # steps of another puzzle
    assert steps_answer("4 5 6 10", "") is None


def test_cot_compose_answer_replaces_a_wrong_answer_line_and_traces_it():
    from langchain_core.language_models.fake import FakeListLLM

    from chainlab.chains import chain_of_thought, self_consistency

    task = get_task("game24")
    assert task.composes_answers and not get_task("gsm8k").composes_answers
    wrong_line = _GOOD_COT + "Answer: (5 + 11) + (5 - 3) = 24"
    bad_steps = "4 + 5 = 9 (left: 6 9 10)\nAnswer: 4 * 6 = 24"
    p = {"numbers": "4 5 6 10"}

    paper = chain_of_thought(FakeListLLM(responses=[wrong_line]), "game24").invoke(p)
    assert paper.answer == "(5 + 11) + (5 - 3)" and not paper.correct
    res = chain_of_thought(FakeListLLM(responses=[wrong_line]), "game24", compose_answer=True).invoke(p)
    assert res.answer == "(5 * (10 - 4)) - 6" and res.correct
    assert res.trace.stages() == ["reason", "compose"]
    ev = res.trace[1]
    assert ev.parent == 0 and ev.prompt is None and ev.completion is None
    assert ev.data["answer"] == res.answer and ev.data["model_answer"] == "(5 + 11) + (5 - 3)"
    assert res.trace.llm_events() == [res.trace[0]]
    assert res.candidates[0].data["composed"] and res.usage.calls == 1  # no LLM call to compose
    kept = chain_of_thought(FakeListLLM(responses=[bad_steps]), "game24", compose_answer=True).invoke(p)
    assert kept.answer == "4 * 6" and kept.trace.stages() == ["reason"]  # steps do not check

    # self-consistency votes on the composed answers: 2 composed right beat 1 + 1 + 1 model lines
    samples = [bad_steps, wrong_line, "Answer: 4 + 6 = 24", wrong_line, "Answer: 10 + 6 + 5 + 4 = 24"]
    llm = FakeListLLM(responses=samples)
    sc = self_consistency(chain_of_thought(llm, "game24", compose_answer=True), k=5, temperature=0.7)
    out = sc.invoke(p)
    assert out.answer == "(5 * (10 - 4)) - 6" and out.correct
    assert out.candidates[0].votes == 2 and out.confidence == pytest.approx(0.4)
    with pytest.raises(ValueError, match="compose_answer=True needs a task.*'gsm8k'"):
        chain_of_thought(FakeListLLM(responses=["x"]), "gsm8k", compose_answer=True).invoke(
            {"question": "1 + 1?", "answer": "2"}
        )
