"""Tree-of-Thoughts: BFS/DFS search (batching, caching, pruning, backtracking, traces, bad input)
and the 4-stage sequential pipeline (LCEL and classic SequentialChain)."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.prompts import PromptTemplate
from test_chains_fakes import RecordingLLM, game24_oracle, scripted

from chainlab.chains import (
    Expansion,
    SearchTask,
    StrategyError,
    ValueReading,
    tot_search,
    tot_sequential,
)
from chainlab.prompts import game24 as g24
from chainlab.tasks.game24_math import format_step, is_solvable, next_steps

KINDS = {
    g24.PROPOSE_INSTRUCTION: "propose",
    g24.VALUE_INSTRUCTION: "value",
    g24.JUDGE_INSTRUCTION: "judge",
    g24.COT_INSTRUCTION: "cot",
}


def kind(prompt: str) -> str:
    return next(v for k, v in KINDS.items() if k in prompt)


def call_kinds(llm: RecordingLLM) -> list[str]:
    """The prompt kind of every recorded call (asserting each call holds one kind only)."""
    out = []
    for call in llm.calls:
        kinds = {kind(p) for p in call["prompts"]}
        assert len(kinds) == 1, kinds
        out.append(kinds.pop())
    return out


# ------------------------------------------------------------------ BFS


def test_bfs_solves_with_one_call_per_level_for_proposals_and_for_values():
    llm = RecordingLLM(responder=game24_oracle())
    r = tot_search(llm, "game24", b=2, n_evaluate_sample=1).invoke("4 5 6 10")
    assert r.correct is True and r.answer
    # levels 1-3 propose + value (level 3 states have one number: valued without the LLM),
    # level 4: the CoT prompt writes the Answer line, the judge values it
    assert call_kinds(llm) == ["propose", "value", "propose", "value", "propose", "cot", "judge"]
    assert r.extra["llm_calls"] == 7
    for call in llm.calls:  # no prompt is sent twice in a call
        assert len(call["prompts"]) == len(set(call["prompts"]))
    assert llm.calls[0]["kwargs"]["do_sample"] is False  # proposals are greedy by default
    assert r.usage.calls == sum(llm.prompt_counts())  # Usage counts one run per prompt
    assert len(r.extra["finals"]) == 2 and all(c["data"]["correct"] for c in r.extra["finals"])


def test_bfs_trace_is_a_tree_of_nodes_with_llm_events_attached():
    llm = RecordingLLM(responder=game24_oracle(max_proposals=2))
    r = tot_search(llm, "game24", b=1, n_evaluate_sample=1).invoke("4 5 6 10")
    t = r.trace
    nodes = t.by_stage("node")
    node_ids = {n.id for n in nodes}
    assert nodes[0].parent is None and nodes[0].data["depth"] == 0
    assert all(n.parent in node_ids for n in nodes[1:])
    for n in nodes[1:]:
        assert n.data["depth"] == t[n.parent].data["depth"] + 1
    for ev in t.by_stage("propose") + t.by_stage("value"):
        assert ev.parent in node_ids and ev.prompt and ev.completion is not None
    # the ids are in creation order: every event's parent comes before it
    assert all(e.parent is None or e.parent < e.id for e in t)
    selected = [n for n in nodes if n.data["selected"]]
    assert [n.data["depth"] for n in selected] == [0, 1, 2, 3, 4]
    tree = t.tree()
    assert len(tree) == 1 and tree[0]["children"]
    assert "Answer:" in t.render() and "*[" in t.render()
    assert t.by_stage("answer")[-1].data["answer"] == r.answer
    assert r.to_dict()["trace"][0]["stage"] == "node"


def test_bfs_values_are_summed_and_repeated_value_prompts_cost_nothing():
    # "2 + 2" and "2 * 2" give different states with the same numbers left: one value prompt
    respond = scripted(
        {
            g24.PROPOSE_INSTRUCTION: "2 + 2 = 4 (left: 3 4 4)\n2 * 2 = 4 (left: 3 4 4)\n2 + 2 = 4 (left: 3 4 4)",
            g24.VALUE_INSTRUCTION: ["sure", "likely", "impossible"],
        }
    )
    llm = RecordingLLM(responder=respond)
    r = tot_search(llm, "game24", b=5, n_evaluate_sample=3, steps=1).invoke("2 2 3 4")
    assert llm.prompt_counts() == [1, 1]
    assert llm.calls[1]["kwargs"]["n"] == 3
    kids = [n for n in r.trace.by_stage("node") if n.data["depth"] == 1]
    assert len(kids) == 2  # the duplicate line is merged
    assert [k.data["value"] for k in kids] == [pytest.approx(21.001)] * 2
    assert [k.data["value_source"] for k in kids] == ["llm", "cache"]
    assert len(r.trace.by_stage("value")) == 3  # one event per value sample, recorded once


def test_bfs_batch_shares_each_level_call_across_problems():
    llm = RecordingLLM(responder=game24_oracle(max_proposals=2))
    rs = tot_search(llm, "game24", b=1, n_evaluate_sample=1).batch(["4 5 6 10", "1 1 4 6"])
    assert all(r.correct for r in rs)
    assert call_kinds(llm) == ["propose", "value", "propose", "value", "propose", "cot", "judge"]
    assert llm.prompt_counts()[0] == 2  # both roots proposed in one call
    assert rs[0].trace is not rs[1].trace


def test_bfs_sample_selection_is_seeded_and_generation_by_sampling():
    llm = RecordingLLM(responder=game24_oracle())
    kw = dict(method_select="sample", method_generate="sample", n_generate_sample=2, seed=3, b=2)
    a = tot_search(llm, "game24", n_evaluate_sample=1, **kw).invoke("4 5 6 10")
    b = tot_search(llm, "game24", n_evaluate_sample=1, **kw).invoke("4 5 6 10")
    assert a.answer == b.answer and a.correct
    sample_calls = [c for c in llm.calls if kind(c["prompts"][0]) == "cot"]
    assert sample_calls[0]["kwargs"]["n"] == 2 and sample_calls[0]["kwargs"]["temperature"] == 0.7


def test_unparsable_proposals_and_values_are_failures_in_the_trace():
    llm = RecordingLLM(
        responder=scripted({g24.PROPOSE_INSTRUCTION: "I like turtles\n4 + 5 = 10 (left: 6 10 10)"})
    )
    r = tot_search(llm, "game24").invoke("4 5 6 10")
    assert r.answer is None and r.correct is False
    prop = r.trace.by_stage("propose")[0]
    assert len(prop.data["errors"]) == 3 and prop.data["error"]  # 2 bad lines + "no valid step"
    assert r.trace.by_stage("error")[0].data["error"] == "no states left to expand"
    assert r.trace.by_stage("answer")[0].data["error"]

    llm = RecordingLLM(
        responder=scripted({g24.PROPOSE_INSTRUCTION: "4 + 5 = 9 (left: 6 9 10)"}, "banana")
    )
    r = tot_search(llm, "game24", steps=1).invoke("4 5 6 10")
    values = r.trace.by_stage("value")
    assert len(values) == 3  # n_evaluate_sample=3 by default
    assert all(v.data["error"] and v.data["reading"] is None for v in values)
    assert r.candidates[0].score == 0.0 and r.answer is None


def test_llm_error_mid_search_raises_with_partial_trace():
    llm = RecordingLLM(responder=game24_oracle(), fail_after=2)
    with pytest.raises(StrategyError) as info:
        tot_search(llm, "game24", n_evaluate_sample=1).invoke("4 5 6 10")
    trace = info.value.trace
    assert trace.by_stage("node") and trace.by_stage("propose") and trace.by_stage("value")
    assert trace.stages()[-1] == "error" and "propose" in info.value.stage


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"b": 0}, "b=0"),
        ({"steps": 0}, "steps=0"),
        ({"n_evaluate_sample": 0}, "n_evaluate_sample=0"),
    ],
)
def test_invalid_search_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tot_search(FakeListLLM(responses=["x"]), "game24", **kwargs).invoke("4 5 6 10")


def test_invalid_search_methods():
    with pytest.raises(ValueError, match="method_select"):
        tot_search(FakeListLLM(responses=["x"]), method_select="best").invoke("4 5 6 10")
    with pytest.raises(ValueError, match="DFS"):
        tot_search(FakeListLLM(responses=["x"]), method="dfs", method_evaluate="vote").invoke(
            "1 2 3 4"
        )


def test_strategy_is_reusable_and_safe_to_call_concurrently():
    s = tot_search(
        RecordingLLM(responder=game24_oracle(max_proposals=2)), "game24", b=1, n_evaluate_sample=1
    )
    puzzles = ["4 5 6 10", "1 1 4 6", "4 9 10 13", "1 1 11 11"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(s.invoke, puzzles))
    assert [r.problem["numbers"] for r in results] == puzzles
    assert all(r.correct for r in results)
    again = s.invoke("4 5 6 10")
    assert len(again.trace) == len(results[0].trace)


# ------------------------------------------------------------------ DFS


def misleading_oracle():
    """Lists dead-end steps first and calls every multi-number state 'likely' (value 1)."""
    base = game24_oracle()

    def respond(prompt: str, j: int) -> str:
        if g24.PROPOSE_INSTRUCTION in prompt:
            nums = prompt.split("Input: ")[-1].split("[/INST]")[0].strip()
            from chainlab.tasks.game24_math import parse_numbers

            steps = next_steps(parse_numbers(nums))
            dead = [s for s in steps if not is_solvable(s.left)][:2]
            good = [s for s in steps if is_solvable(s.left)][:1]
            return "\n".join(format_step(s) for s in dead + good)
        if g24.VALUE_INSTRUCTION in prompt:
            return "likely"
        return base(prompt, j)

    return RecordingLLM(responder=respond)


def test_dfs_prunes_backtracks_and_finds_a_solution():
    llm = misleading_oracle()
    r = tot_search(llm, "game24", method="dfs", n_evaluate_sample=1, value_threshold=1.0).invoke(
        "4 5 6 10"
    )
    stages = r.trace.stages()
    assert "prune" in stages and "backtrack" in stages
    assert r.correct is True and r.extra["accepted"] is True
    # every expansion is one generation call followed by at most one value call
    # (states with one number left are valued without the LLM)
    kinds = call_kinds(llm)
    assert kinds[0] == "propose" and kinds[1] == "value"
    assert sum(k in ("propose", "cot") for k in kinds) == r.extra["visits"]
    assert all(
        not (a == b and a in ("value", "judge")) for a, b in zip(kinds, kinds[1:], strict=False)
    )
    pruned = [n for n in r.trace.by_stage("node") if n.data.get("pruned")]
    assert pruned and all(n.data["value"] < 1.0 for n in pruned)


def test_dfs_everything_pruned_gives_no_answer():
    llm = RecordingLLM(responder=game24_oracle())
    r = tot_search(llm, "game24", method="dfs", n_evaluate_sample=1, value_threshold=100).invoke(
        "4 5 6 10"
    )
    assert r.answer is None and r.extra["accepted"] is False
    assert len(r.trace.by_stage("prune")) == len(r.trace.by_stage("node")) - 1
    assert len(llm.calls) == 2  # the root's expansion only


def test_dfs_visit_budget_and_rejected_final_falls_back_to_best_seen():
    llm = RecordingLLM(responder=game24_oracle(wrong_answer=True))
    r = tot_search(llm, "game24", method="dfs", n_evaluate_sample=1, max_visits=4).invoke(
        "4 5 6 10"
    )
    assert r.extra["accepted"] is False and r.extra["visits"] == 4
    assert r.answer == "1 + 2 + 3 + 4" and r.correct is False  # judged incorrect, best seen
    assert "budget" in r.trace.stages()


# ------------------------------------------------------------------ a custom search task, vote evaluation


class CountTo(SearchTask):
    """Toy task: from 0, add 1 or 2 per step; final when the total is ``target``."""

    steps = 3

    def root(self, problem):
        return 0

    def is_final(self, problem, state):
        return state == problem["target"]

    def answer(self, problem, state):
        return str(state)

    def score(self, problem, answer):
        return answer == str(problem["target"])

    def propose_prompt(self, problem, state):
        return f"propose from {state}"

    def parse_proposals(self, problem, state, text):
        out = Expansion()
        for tok in text.split():
            if tok.isdigit():
                out.children.append(state + int(tok))
            else:
                out.errors.append(tok)
        return out

    def vote_prompt(self, problem, states):
        return "vote among " + ",".join(map(str, states))

    def parse_vote(self, problem, states, text):
        return int(text) if text.isdigit() else None

    def value_prompt(self, problem, state):
        return f"value {state}"

    def parse_value(self, problem, state, text):
        return ValueReading(float(text), text)


def test_custom_search_task_with_vote_evaluation():
    llm = RecordingLLM(
        responder=lambda p, j: "1 2" if p.startswith("propose") else ("1" if j < 2 else "0")
    )
    s = tot_search(
        llm, task="qa", search_task=CountTo(), method_evaluate="vote", n_evaluate_sample=3, b=1
    )
    r = s.invoke({"question": "count", "target": 4})
    assert r.answer == "4" and r.extra["finals"][0]["data"]["correct"]
    votes = r.trace.by_stage("vote")
    assert votes and votes[0].prompt == "vote among 1,2"
    assert [c["kwargs"].get("n") for c in llm.calls] == [1, 3, 1, 3]


# ------------------------------------------------------------------ sequential 4-stage pipeline


def test_tot_sequential_named_keys_trace_and_classic_chain():
    llm = FakeListLLM(responses=["S", "E", "D", "R"])
    s = tot_sequential(llm, num_solutions=2)
    r = s.invoke({"problem": "Grow tomatoes on Mars", "factors": "water"})
    assert r.answer == "R"
    assert [
        r[k] for k in ("solutions", "evaluations", "enhanced_reasoning", "ranked_solutions")
    ] == list("SEDR")
    assert r.trace.stages() == [
        "solutions",
        "evaluations",
        "enhanced_reasoning",
        "ranked_solutions",
    ]
    first, second = r.trace.llm_events()[:2]
    assert (
        "Grow tomatoes on Mars" in first.prompt
        and "water" in first.prompt
        and "2 distinct" in first.prompt
    )
    assert second.parent == first.id and "S" in second.prompt
    out = s.as_lcel().invoke({"problem": "p", "factors": "f", "num_solutions": 3})
    assert out["ranked_solutions"] == "R" and out["solutions"] == "S"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = s.as_sequential_chain()
        res = chain.invoke({"problem": "p", "factors": "f", "num_solutions": 3})
    assert type(chain).__name__ == "SequentialChain"
    assert chain.input_keys == ["factors", "num_solutions", "problem"]
    assert res["ranked_solutions"] == "R" and res["enhanced_reasoning"] == "D"


def test_tot_sequential_custom_templates_and_errors():
    t = [
        PromptTemplate.from_template(x)
        for x in ("{problem}", "{solutions}", "{evaluations}", "{enhanced_reasoning}")
    ]
    r = tot_sequential(FakeListLLM(responses=["a", "b", "c", "d"]), prompts=t).invoke(
        {"problem": "P"}
    )
    assert [e.prompt for e in r.trace.llm_events()] == ["P", "a", "b", "c"]
    with pytest.raises(ValueError, match="4 templates"):
        tot_sequential(FakeListLLM(responses=["a"]), prompts=t[:2]).invoke({"problem": "P"})
    bad = tot_sequential(RecordingLLM(responder=scripted({}, "x"), fail_after=1))
    with pytest.raises(StrategyError) as info:
        bad.invoke({"problem": "P"})
    assert info.value.trace.stages() == ["solutions"]


# ------------------------------------------------------------------ static expansion / compose_answer


class StaticCountTo(CountTo):
    """CountTo whose state 2 expands without the LLM (to 4), and whose state 1 breaks the hook."""

    def static_expansion(self, problem, state):
        if state == 2:
            return Expansion(children=[4, 4])
        if state == 1:
            raise RuntimeError("hook bug")
        return None


def test_static_expansion_hook_runs_before_any_llm_call_and_is_traced():
    llm = RecordingLLM(responder=lambda p, j: "1 2" if p.startswith("propose") else "1")
    s = tot_search(llm, task="qa", search_task=StaticCountTo(), n_evaluate_sample=1, b=2)
    r = s.invoke({"question": "count", "target": 4})
    assert r.answer == "4"
    sent = [p for c in llm.calls for p in c["prompts"]]
    assert "propose from 0" in sent
    assert "propose from 2" not in sent and "propose from 1" not in sent  # never asked the LLM
    composes = r.trace.by_stage("compose")
    assert len(composes) == 2 and all(c.prompt is None for c in composes)
    by_state = {r.trace[c.parent].data["state"]: c for c in composes}
    ok, broken = by_state["2"], by_state["1"]
    assert ok.data["states"] == ["4"] and ok.data["error"] is None and ok.data["level"] == 2
    kids = [n for n in r.trace.by_stage("node") if n.data.get("from_event") == ok.id]
    assert [k.data["state"] for k in kids] == ["4"] and kids[0].parent == ok.parent
    assert broken.data["states"] == [] and "hook bug" in broken.data["errors"][0]
    assert broken.data["error"] == "no state composed"
    assert composes[0] not in r.trace.llm_events()


def test_base_search_task_has_no_static_expansion():
    assert SearchTask().static_expansion({}, 0) is None
    assert SearchTask().max_new_tokens("propose", {}, 0) is None


def test_compose_answer_writes_the_answer_from_the_validated_steps():
    # the model reaches 24 with valid steps but writes a wrong Answer line
    llm = RecordingLLM(responder=game24_oracle(wrong_answer=True))
    paper = tot_search(llm, "game24", b=2, n_evaluate_sample=1).invoke("4 5 6 10")
    assert paper.correct is False and paper.answer == "1 + 2 + 3 + 4"
    assert "compose" not in paper.trace.stages()
    assert call_kinds(llm)[-2:] == ["cot", "judge"]

    llm = RecordingLLM(responder=game24_oracle(wrong_answer=True))
    s = tot_search(
        llm, "game24", b=2, n_evaluate_sample=1, search_options={"compose_answer": True}
    )
    r = s.invoke("4 5 6 10")
    assert r.correct is True and r.answer != "1 + 2 + 3 + 4"
    # levels 1-3 as before; level 4 needs no LLM call at all (no CoT prompt, no judge)
    assert call_kinds(llm) == ["propose", "value", "propose", "value", "propose"]
    assert r.extra["llm_calls"] == 5
    composes = r.trace.by_stage("compose")
    assert composes and all(c.data["level"] == 4 for c in composes)
    finals = [n for n in r.trace.by_stage("node") if n.data["final"]]
    assert finals and all(n.data["value_source"] == "static" for n in finals)
    assert all(r.trace[n.data["from_event"]].stage == "compose" for n in finals)
    assert all(c["data"]["correct"] for c in r.extra["finals"])
    assert f"Answer: {r.answer} = 24" in r.trace.render()


def test_compose_answer_in_dfs_and_batches():
    llm = RecordingLLM(responder=game24_oracle(wrong_answer=True))
    s = tot_search(
        llm, "game24", method="dfs", n_evaluate_sample=1, search_options={"compose_answer": True}
    )
    r = s.invoke("4 5 6 10")
    assert r.correct is True and r.extra["accepted"] is True and "cot" not in call_kinds(llm)
    llm = RecordingLLM(responder=game24_oracle(max_proposals=2, wrong_answer=True))
    s = tot_search(llm, "game24", b=1, n_evaluate_sample=1, search_options={"compose_answer": True})
    rs = s.batch(["4 5 6 10", "1 1 4 6"])
    assert all(x.correct for x in rs) and len(llm.calls) == 5


def test_search_options_are_checked():
    llm = FakeListLLM(responses=["x"])
    with pytest.raises(ValueError, match="Invalid search_options"):
        tot_search(llm, "game24", search_options={"compose": True}).invoke("4 5 6 10")
    with pytest.raises(ValueError, match="not both"):
        tot_search(
            llm, "qa", search_task=CountTo(), search_options={"compose_answer": True}
        ).invoke({"question": "q", "target": 1})
    with pytest.raises(ValueError, match="compose_answer must be true or false"):
        tot_search(llm, "game24", search_options={"compose_answer": "yes"}).invoke("4 5 6 10")


# ------------------------------------------------------------------ completion lengths / new output formats


def max_tokens_by_kind(llm: RecordingLLM) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for k, call in zip(call_kinds(llm), llm.calls, strict=True):
        out.setdefault(k, set()).add(call["kwargs"]["max_new_tokens"])
    return out


def test_search_sends_the_completion_lengths_the_game24_prompts_need():
    llm = RecordingLLM(responder=game24_oracle())
    tot_search(llm, "game24", b=2, n_evaluate_sample=1).invoke("4 5 6 10")
    lengths = max_tokens_by_kind(llm)
    assert min(lengths["propose"]) >= 400  # every whole-number move: up to ~25 lines
    assert min(lengths["value"]) >= 160  # a worked check, then sure/impossible
    assert lengths["cot"] == {128} and lengths["judge"] == {128}
    # explicit settings win; value falls back to max_new_tokens when only that is set
    llm = RecordingLLM(responder=game24_oracle())
    tot_search(
        llm, "game24", b=1, n_evaluate_sample=1, max_new_tokens=64, value_max_new_tokens=8
    ).invoke("4 5 6 10")
    lengths = max_tokens_by_kind(llm)
    assert lengths["propose"] == lengths["cot"] == {64}
    assert lengths["value"] == lengths["judge"] == {8}
    llm = RecordingLLM(responder=lambda p, j: "1 2" if p.startswith("propose") else "1")
    tot_search(llm, "qa", search_task=CountTo(), n_evaluate_sample=1, max_new_tokens=30).invoke(
        {"question": "q", "target": 2}
    )
    assert {c["kwargs"]["max_new_tokens"] for c in llm.calls} == {30}
    llm = RecordingLLM(responder=lambda p, j: "1 2" if p.startswith("propose") else "1")
    tot_search(llm, "qa", search_task=CountTo(), n_evaluate_sample=1).invoke(
        {"question": "q", "target": 2}
    )
    assert {c["kwargs"]["max_new_tokens"] for c in llm.calls} == {256}


def test_worked_value_checks_and_long_proposal_lists_are_read():
    """The new chainlab-tiny formats: value = a short worked check ending in ``sure`` or
    ``impossible``; propose = every whole-number move (up to ~25 lines for 4 numbers)."""
    worked = {
        True: "6: need 30 18 144 4 | 9 10 -> 19 1 90 | no\n9: need 33 15 216 | 6 10 -> 16 4 60 | no\n"
        "10: need 34 14 240 | 6 9 -> 15 3 54 | no\nsure",
        False: "1: need 25 23 24 | 1 1 -> 2 0 1 | no\nimpossible",
    }

    def respond(prompt: str, j: int) -> str:
        if g24.VALUE_INSTRUCTION in prompt:
            nums = prompt.split("Input: ")[-1].split("[/INST]")[0]
            from chainlab.tasks.game24_math import parse_numbers

            return worked[is_solvable(parse_numbers(nums))]
        return game24_oracle(max_proposals=100)(prompt, j)

    llm = RecordingLLM(responder=respond)
    r = tot_search(llm, "game24", b=5, n_evaluate_sample=1, steps=1).invoke("4 5 6 10")
    whole = [s for s in next_steps((4, 5, 6, 10)) if s.result.denominator == 1]
    kids = [n for n in r.trace.by_stage("node") if n.data["depth"] == 1]
    assert len(kids) >= len(whole) >= 15
    labels = {lab for n in kids for lab in n.data["labels"] if n.data.get("labels")}
    assert labels == {"sure", "impossible"}
    for n in kids:
        want = 20.0 if n.data["labels"] == ["sure"] else 0.001
        assert n.data["value"] == pytest.approx(want)
