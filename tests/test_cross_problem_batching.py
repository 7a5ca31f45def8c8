"""Many problems through the LLM together give the same results as one by one (greedy).

* sub-batch planning (``batch_size``/``max_batch_rows``/``max_batch_tokens``);
* LocalLLM: a big request split into sub-batches == one-by-one greedy calls;
* strategies: ``strategy.batch(problems)`` (what ``chainlab compare`` runs per chunk: each stage's
  calls of all problems in one LLM call) == ``strategy.invoke`` per problem, for self-consistency
  and Tree-of-Thoughts BFS on a real tiny model.
"""

from __future__ import annotations

import pytest

from chainlab.chains import direct, self_consistency, tot_search
from chainlab.llms.options import BatchLimits, plan_batches
from chainlab.llms.usage import track_usage
from chainlab.tasks.search import Expansion, SearchTask, ValueReading

SHARED = "Use the numbers and basic arithmetic to obtain 24. "
QUESTIONS = ["1 2 3 4", "4 5 6 10", "10 14", "2 3 5 12", "7 7 7", "8 8 3 3", "1 1 1 1 1"]
PROBLEMS = [{"id": i, "question": q} for i, q in enumerate(QUESTIONS)]



# --------------------------------------------------------------------------- planning


def test_plan_batches_respects_every_limit_and_keeps_order():
    lengths = [10, 30, 12, 50, 8, 9, 40]
    limits = BatchLimits(prompts=3, rows=8, tokens=8 * 70)
    plan = plan_batches(lengths, 2, 20, limits)
    flat = [(i, r) for batch in plan for i, r in batch]
    assert [i for i, _ in flat] == list(range(len(lengths)))  # order kept, each prompt once
    assert all(r == 2 for _, r in flat)  # a prompt's samples stay together
    for batch in plan:
        rows = sum(r for _, r in batch)
        width = max(lengths[i] for i, _ in batch)
        assert len(batch) <= 3 and rows <= 8 and rows * (width + 20) <= 8 * 70


def test_plan_batches_splits_samples_that_overflow_an_empty_batch():
    plan = plan_batches([5, 5], 10, 5, BatchLimits(prompts=4, rows=4, tokens=10_000))
    assert plan == [[(0, 4)], [(0, 4)], [(0, 2), (1, 2)], [(1, 4)], [(1, 4)]]
    # a prompt longer than the token budget still runs, alone
    assert plan_batches([100, 3], 1, 10, BatchLimits(tokens=50)) == [[(0, 1)], [(1, 1)]]
    with pytest.raises(ValueError, match="rows"):
        BatchLimits(rows=0)


# --------------------------------------------------------------------------- LLM level


def test_sub_batched_greedy_equals_one_by_one(tiny_llm):
    prompts = [SHARED + q for q in QUESTIONS]
    small = tiny_llm.model_copy(
        update={"batch_size": 3, "max_batch_rows": 4, "max_batch_tokens": 2 * (40 + 12)}
    )
    split = small.generate(prompts, n=2)
    assert split.llm_output["token_usage"]["calls"] > 2  # really split
    whole = tiny_llm.generate(prompts, n=2)
    assert whole.llm_output["token_usage"]["calls"] == 1
    one_by_one = [tiny_llm.invoke(p) for p in prompts]
    assert [[g.text for g in gens] for gens in split.generations] == [[t, t] for t in one_by_one]
    assert [[g.text for g in gens] for gens in whole.generations] == [[t, t] for t in one_by_one]
    plain = tiny_llm.model_copy(update={"prefix_reuse": False, "batch_size": 3})
    assert [plain.invoke(p) for p in prompts] == one_by_one


def test_sub_batched_sampling_keeps_shapes_and_usage(tiny_llm):
    prompts = [SHARED + q for q in QUESTIONS[:3]]
    small = tiny_llm.model_copy(update={"max_batch_rows": 4})
    result = small.generate(prompts, n=5, temperature=1.2, seed=0)
    usage = result.llm_output["token_usage"]
    assert [len(g) for g in result.generations] == [5, 5, 5]
    assert usage["sequences"] == 15 and usage["calls"] == 4  # 15 rows, 4 per sub-batch
    again = small.generate(prompts, n=5, temperature=1.2, seed=0)
    assert [[g.text for g in gs] for gs in again.generations] == [
        [g.text for g in gs] for gs in result.generations
    ]


# --------------------------------------------------------------------------- strategy level


def _events(result) -> list[tuple[str, str | None, str | None]]:
    return [(e.stage, e.prompt, e.completion) for e in result.trace.llm_events()]


def _same(batched, single) -> None:
    assert [r.answer for r in batched] == [r.answer for r in single]
    assert [_events(r) for r in batched] == [_events(r) for r in single]


def test_self_consistency_batched_equals_one_by_one_greedy(tiny_llm):
    base = direct(
        tiny_llm, prompt=lambda x: f"{SHARED}Input: {x['question']}\nAnswer:", max_new_tokens=10
    )
    sc = self_consistency(base, k=3, temperature=0.0)
    with track_usage() as usage:
        batched = sc.batch(PROBLEMS)
    assert batched[0].extra["llm_calls"] == 1  # every problem's k samples in one LLM call
    assert usage.sequences == 3 * len(PROBLEMS)
    single = [sc.invoke(p) for p in PROBLEMS]
    _same(batched, single)
    assert len({r.trace.llm_events()[0].completion for r in batched}) > 1


class WordTree(SearchTask):
    """A search over the words a (random) model writes: every reply grows the tree.

    Children of a state are the state plus each of the first two words of the proposal; a
    state is final after two words; its value is read from the value reply's length.
    """

    steps = 2

    def root(self, problem):
        return ()

    def state_key(self, state):
        return state

    def describe(self, state):
        return " ".join(state)

    def is_final(self, problem, state):
        return len(state) >= 2

    def answer(self, problem, state):
        return " ".join(state)

    def score(self, problem, answer):
        return False

    def propose_prompt(self, problem, state):
        return f"{SHARED}Input: {problem['question']}\nSteps: {' '.join(state)}\nNext:"

    def parse_proposals(self, problem, state, text):
        words = [w for w in text.split() if w.isprintable()][:2]
        return Expansion(children=[(*state, w) for w in words])

    def value_prompt(self, problem, state):
        return f"{SHARED}Evaluate: {problem['question']} -> {' '.join(state)}\nVerdict:"

    def parse_value(self, problem, state, text):
        return ValueReading(float(len(text.strip()) % 5), text)


def test_tot_bfs_batched_equals_one_by_one_greedy(tiny_llm):
    tot = tot_search(
        tiny_llm,
        task="qa",
        search_task=WordTree(),
        b=2,
        n_evaluate_sample=2,
        value_temperature=0.0,
        max_new_tokens=8,
    )
    batched = tot.batch(PROBLEMS[:5])
    single = [tot.invoke(p) for p in PROBLEMS[:5]]
    _same(batched, single)
    # one LLM call per stage and tree level for all problems together
    calls = batched[0].extra["llm_calls"]
    assert calls <= max(r.extra["llm_calls"] for r in single)
    assert sum(len(_events(r)) for r in batched) > 5 * calls  # the trees really grew


def test_tot_bfs_with_seeded_value_sampling_runs_batched(tiny_llm):
    tot = tot_search(
        tiny_llm,
        task="qa",
        search_task=WordTree(),
        b=2,
        n_evaluate_sample=3,
        value_temperature=0.7,
        max_new_tokens=8,
        seed=0,
    )
    a = tot.batch(PROBLEMS[:4])
    b = tot.batch(PROBLEMS[:4])
    _same(a, b)  # seeded: the batched run is reproducible
