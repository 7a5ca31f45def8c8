"""self_consistency and verifier: votes, ties, normalization, one batched call, judges, fallbacks."""

from __future__ import annotations

import math

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.prompts import PromptTemplate
from test_chains_fakes import RecordingLLM, scripted

from chainlab.chains import (
    Candidate,
    chain_of_thought,
    direct,
    majority_vote,
    self_consistency,
    verifier,
)


def samples(*texts: str) -> RecordingLLM:
    """An n-sampling LLM whose j-th sample (of any prompt) is texts[j]."""
    return RecordingLLM(responder=lambda p, j: texts[j % len(texts)])


# ------------------------------------------------------------------ voting


def cands(*norms):
    return [Candidate(n, n) for n in norms]


def test_majority_vote_counts_and_share():
    groups, share = majority_vote(cands("1", "2", "2", None, "2"))
    assert [(g.answer, g.votes) for g in groups] == [("2", 3), ("1", 1)]
    assert share == pytest.approx(3 / 5)  # abstentions count in the denominator
    assert groups[0].data["members"] == [1, 2, 4]


def test_majority_vote_tie_goes_to_first_seen():
    groups, share = majority_vote(cands("b", "a", "a", "b"))
    assert groups[0].answer == "b" and share == 0.5
    assert majority_vote(cands(None, None)) == ([], None)


def test_weighted_vote():
    groups, _ = majority_vote(cands("a", "b", "b"), weights=[0.9, 0.3, 0.3])
    assert groups[0].answer == "a" and groups[0].score == pytest.approx(0.9)


# ------------------------------------------------------------------ self-consistency


def test_self_consistency_votes_over_normalized_numbers_in_one_call():
    llm = samples("Answer: 18.0", "Answer: $18", "Answer: 20", "The answer is 1,8", "nothing")
    sc = self_consistency(direct(llm, task="gsm8k"), k=5, temperature=0.8)
    r = sc.invoke({"question": "q", "answer": "18"})
    assert len(llm.calls) == 1 and llm.calls[0]["kwargs"]["n"] == 5
    assert llm.calls[0]["kwargs"]["temperature"] == 0.8 and llm.calls[0]["kwargs"]["do_sample"]
    assert r.answer == "18" and r.correct  # numeric tasks extract normalized numbers
    assert r.confidence == pytest.approx(3 / 5)  # "1,8" normalizes to 18 as well
    assert [(c.normalized, c.votes) for c in r.candidates] == [("18", 3), ("20", 1)]
    vote = r.trace.by_stage("vote")[0]
    assert vote.data["votes"] == {"18": 3, "20": 1} and vote.data["abstentions"] == 1
    assert len(r.trace.by_stage("generate")) == 5


def test_self_consistency_tie_breaks_to_earliest():
    r = self_consistency(direct(samples("7", "8", "8", "7"), task="gsm8k"), k=4).invoke("q")
    assert r.answer == "7" and r.confidence == 0.5


def test_self_consistency_batch_is_one_call_for_all_problems():
    llm = samples("Answer: 1", "Answer: 1", "Answer: 2")
    rs = self_consistency(direct(llm, task="gsm8k"), k=3).batch(["a", "b", "c"])
    assert llm.prompt_counts() == [3] and all(r.answer == "1" for r in rs)


def test_self_consistency_fallback_llm_repeats_prompts_in_one_call():
    llm = RecordingLLM(responder=scripted({}, "Answer: 4"), supports_n=False)
    r = self_consistency(direct(llm, task="gsm8k"), k=3).invoke("q")
    assert llm.prompt_counts() == [3] and r.answer == "4" and r.confidence == 1.0


def test_self_consistency_with_fake_list_llm_and_prompt_base():
    llm = FakeListLLM(responses=["Answer: 3", "Answer: 5", "Answer: 5"])
    sc = self_consistency(PromptTemplate.from_template("{question}"), k=3, llm=llm, task="gsm8k")
    r = sc.invoke("2 + 3")
    assert r.answer == "5" and r.trace[0].prompt == "2 + 3"


def test_self_consistency_over_zero_shot_cot_batches_both_stages():
    def respond(prompt: str, j: int) -> str:
        if "Therefore" in prompt:  # extraction: read the reasoning back
            return " 4" if "four" in prompt else " 5"
        return ["four", "five", "four"][j]

    llm = RecordingLLM(responder=respond)
    r = self_consistency(chain_of_thought(llm, task="gsm8k", mode="zero_shot"), k=3).invoke("q")
    assert llm.prompt_counts() == [1, 3]  # 3 reasoning samples in one call, 3 extractions in one
    assert r.answer == "4" and r.confidence == pytest.approx(2 / 3)


def test_self_consistency_game24_normalizes_expressions():
    llm = samples(
        "Answer: (5*(10-4))-6 = 24", "Answer: (5 * (10 - 4)) - 6 = 24", "Answer: 4+5+6+10 = 24"
    )
    r = self_consistency(direct(llm, task="game24"), k=3).invoke("4 5 6 10")
    assert r.candidates[0].votes == 2 and r.correct is True


def test_self_consistency_all_unparsable_is_a_failure():
    r = self_consistency(direct(samples("??"), task="gsm8k"), k=2).invoke(
        {"question": "q", "answer": "1"}
    )
    assert r.answer is None and r.correct is False and r.trace.by_stage("vote")[0].data["error"]


@pytest.mark.parametrize("k", [0, -1])
def test_self_consistency_rejects_bad_k(k):
    with pytest.raises(ValueError, match=f"k={k}"):
        self_consistency(direct(samples("1")), k=k)


def test_self_consistency_rejects_non_sampling_base():
    from chainlab.chains import least_to_most

    with pytest.raises(ValueError, match="cannot be sampled"):
        self_consistency(least_to_most(samples("1")), k=2)


def test_self_consistency_truncates_sampling_with_top_k_and_top_p():
    """top_k/top_p reach the one sampling call (Wang et al. sampled with top-k 40), not greedy ones."""
    llm = samples("Answer: 1", "Answer: 1", "Answer: 2")
    r = self_consistency(direct(llm, task="gsm8k"), k=3, top_k=40, top_p=0.9).invoke("q")
    assert r.answer == "1"
    kw = llm.calls[0]["kwargs"]
    assert kw["top_k"] == 40 and kw["top_p"] == 0.9 and kw["temperature"] == 0.7
    greedy = samples("Answer: 1")
    direct(greedy, task="gsm8k", top_k=40).invoke("q")
    assert "top_k" not in greedy.calls[0]["kwargs"]  # greedy decoding ignores truncation
    with pytest.raises(ValueError, match="top_p"):
        self_consistency(direct(llm, task="gsm8k"), k=3, top_p=1.5).invoke("q")
    with pytest.raises(ValueError, match="top_k"):
        self_consistency(direct(llm, task="gsm8k"), k=3, top_k=-1).invoke("q")


# ------------------------------------------------------------------ verifier


def judge_by_answer(good: str):
    """Samples 1, 2, 3 (answers), and a judge that accepts only ``good``."""

    def respond(prompt: str, j: int) -> str:
        if "Proposed answer:" in prompt:
            ans = prompt.split("Proposed answer:")[1].split("\n")[0].strip()
            return "Verdict: correct" if ans == good else "Verdict: incorrect"
        return ["Answer: 1", "Answer: 2", "Answer: 2", "Answer: 3"][j]

    return RecordingLLM(responder=respond)


def test_verifier_picks_the_judged_correct_candidate():
    llm = judge_by_answer("3")
    r = verifier(direct(llm, task="gsm8k"), k=4).invoke({"question": "q", "answer": "3"})
    assert r.answer == "3" and r.correct and r.extra["selection"] == "verified"
    assert llm.prompt_counts() == [1, 4]  # k samples in one call, 4 judge prompts in one call
    llm = judge_by_answer("3")
    verifier(direct(llm, task="gsm8k"), k=4, top_k=40).invoke("q")
    assert llm.calls[0]["kwargs"]["top_k"] == 40
    assert "top_k" not in llm.calls[1]["kwargs"]  # the judge is greedy
    judges = r.trace.by_stage("judge")
    assert len(judges) == 4 and all(j.parent is not None for j in judges)
    assert r.candidates[0].answer == "3" and r.candidates[0].score == 1.0


def test_verifier_falls_back_to_majority_then_best_then_none():
    llm = judge_by_answer("nothing")
    base = direct(llm, task="gsm8k")
    assert verifier(base, k=4).invoke("q").extra["selection"] == "fallback:majority"
    assert verifier(base, k=4).invoke("q").answer == "2"
    best = verifier(base, k=4, fallback="best").invoke("q")
    assert best.answer == "1" and best.extra["selection"] == "fallback:best"
    none = verifier(base, k=4, fallback="none").invoke("q")
    assert none.answer is None and none.trace.by_stage("select")[0].data["error"]


def test_verifier_separate_judge_llm_custom_prompt_and_weighted_vote():
    gen = samples("Answer: 1", "Answer: 2", "Answer: 2")
    judge = RecordingLLM(responder=lambda p, j: "yes" if "ans=1" in p or "ans=2" in p else "no")
    tmpl = PromptTemplate.from_template("{question} ans={answer}")
    r = verifier(direct(gen, task="gsm8k"), k=3, judge=tmpl, judge_llm=judge, weighted=True).invoke(
        "q"
    )
    assert len(gen.calls) == 1 and len(judge.calls) == 1
    assert judge.calls[0]["prompts"][0] == "q ans=1"
    assert r.answer == "2" and r.confidence == pytest.approx(2 / 3)


def test_verifier_unreadable_verdict_scores_zero_and_is_traced():
    llm = RecordingLLM(responder=lambda p, j: "hmm" if "Proposed answer" in p else "Answer: 5")
    r = verifier(direct(llm, task="gsm8k"), k=2, fallback="none").invoke("q")
    assert r.answer is None
    assert all(j.data["error"] for j in r.trace.by_stage("judge"))


def test_verifier_judge_samples_and_params():
    llm = judge_by_answer("2")
    r = verifier(direct(llm, task="gsm8k"), k=4, judge_samples=3, judge_temperature=0.5).invoke("q")
    assert llm.calls[1]["kwargs"]["n"] == 3 and r.answer == "2"
    with pytest.raises(ValueError, match="judge_samples=0"):
        verifier(direct(llm), k=2, judge_samples=0).invoke("q")
    with pytest.raises(ValueError, match="fallback"):
        verifier(direct(llm), k=2, fallback="random").invoke("q")


def test_self_consistency_game24_votes_equivalent_solutions_together():
    """Different expressions with the same numbers and value are one answer to the puzzle."""
    llm = samples(
        "Answer: 4 + 5 + 6 + 10 = 24",
        "Answer: (10 - 4) * 5 - 6 = 24",
        "Answer: 5 * (10 - 4) - 6 = 24",
    )
    r = self_consistency(direct(llm, task="game24"), k=3).invoke("4 5 6 10")
    assert r.candidates[0].votes == 2 and r.candidates[0].normalized == "4 5 6 10 = 24"
    assert r.answer == "(10 - 4) * 5 - 6" and r.correct is True
    assert r.candidates[1].normalized == "4 5 6 10 = 25"


def test_verifier_breaks_ties_among_passing_candidates_by_their_majority():
    """A lenient judge passes every candidate: the answer most of them share wins, not the first."""
    llm = RecordingLLM(
        responder=lambda p, j: "Verdict: correct"
        if "Proposed answer:" in p
        else ["Answer: 1", "Answer: 2", "Answer: 2", "Answer: 3"][j]
    )
    r = verifier(direct(llm, task="gsm8k"), k=4).invoke({"question": "q", "answer": "2"})
    assert r.answer == "2" and r.extra["selection"] == "verified" and r.confidence == 1.0


def test_verifier_greedy_first_samples_only_where_the_greedy_answer_is_rejected():
    def respond(prompt: str, j: int) -> str:
        good = "1" if "qa" in prompt else "3" if "qb" in prompt else "-"  # qa: greedy is right
        if "Proposed answer:" in prompt:
            ans = prompt.split("Proposed answer:")[1].split("\n")[0].strip()
            return "Verdict: correct" if ans == good else "Verdict: incorrect"
        return ["Answer: 1", "Answer: 2", "Answer: 2", "Answer: 3"][j]

    llm = RecordingLLM(responder=respond)
    v = verifier(direct(llm, task="gsm8k"), k=4, greedy_first=True)
    kept = v.invoke({"question": "qa", "answer": "1"})
    assert kept.answer == "1" and kept.extra["selection"] == "verified"
    assert llm.prompt_counts() == [1, 1]  # greedy answer + its judge; no sampling
    assert not llm.calls[0]["kwargs"].get("do_sample") and kept.usage.calls == 2

    llm.calls.clear()
    out = v.batch([{"question": "qa", "answer": "1"}, {"question": "qb", "answer": "3"}])
    assert [r.answer for r in out] == ["1", "3"] and all(r.correct for r in out)
    # greedy for both, judge both, then k samples and their judges for qb only
    assert llm.prompt_counts() == [2, 2, 1, 4] and llm.calls[2]["kwargs"]["n"] == 4
    doubted = out[1]
    assert len(doubted.candidates) == 5 and doubted.candidates[0].answer == "3"
    assert sorted(j.data["candidate"] for j in doubted.trace.by_stage("judge")) == [0, 1, 2, 3, 4]
    assert len(out[0].candidates) == 1 and len(out[0].trace.by_stage("judge")) == 1

    llm.calls.clear()  # nothing passes: the fallback votes over the greedy answer and the samples
    none_pass = verifier(direct(llm, task="gsm8k"), k=4, greedy_first=True)
    r = none_pass.invoke({"question": "qc", "answer": "9"})
    assert r.extra["selection"] == "fallback:majority" and r.answer == "1"  # 1 1 2 2 3: a tie
    assert len(r.candidates) == 5


# ------------------------------------------------------------------ likelihood tie-break / weighting


class ScoringLLM(RecordingLLM):
    """A RecordingLLM that also scores continuations: ``probs[text]`` is a sample's per-token
    probability; every ``loglikelihood`` call is recorded."""

    probs: dict[str, float] = {}
    scored: list[list[tuple[str, str]]] = []

    def loglikelihood(self, pairs, callbacks=None):
        from chainlab.llms.loglikelihood import Likelihood

        self.scored.append(list(pairs))
        return [Likelihood(2 * math.log(self.probs.get(x, 0.5)), 2, False) for _, x in pairs]


def test_majority_vote_tie_scores_break_ties_before_order():
    groups, _ = majority_vote(cands("b", "a", "a", "b"), tie_scores=[0.1, 0.3, 0.2, 0.3])
    assert groups[0].answer == "a"  # 0.5 against 0.4
    groups, _ = majority_vote(cands("b", "a", "a"), tie_scores=[0.9, 0.1, 0.1])
    assert groups[0].answer == "a"  # votes first: tie scores only break ties
    with pytest.raises(ValueError, match="tie_scores must have one entry"):
        majority_vote(cands("a"), tie_scores=[1, 2])


def test_self_consistency_likelihood_tie_break_and_weighting_score_in_one_call():
    texts = ["Answer: 7", "Answer: 8", "Answer: 8", "Answer: 7", "nothing"]
    probs = {"Answer: 7": 0.4, "Answer: 8": 0.6}
    llm = ScoringLLM(responder=lambda p, j: texts[j % 5], probs=probs, scored=[])
    plain = self_consistency(direct(llm, task="gsm8k"), k=5).batch(["q1", "q2"])
    assert [r.answer for r in plain] == ["7", "7"] and llm.scored == []  # first seen wins ties
    tied = self_consistency(direct(llm, task="gsm8k"), k=5, tie_break="likelihood")
    rs = tied.batch(["q1", "q2"])
    assert [r.answer for r in rs] == ["8", "8"] and rs[0].confidence == pytest.approx(2 / 5)
    assert len(llm.scored[-1]) == 8  # one call: 4 answered samples x 2 problems (abstainers not scored)
    assert rs[0].extra["llm_calls"] == 2
    scores = rs[0].trace.by_stage("score")
    assert len(scores) == 4 and scores[0].data["normalized_prob"] == pytest.approx(0.4)
    # weighting: a 3-1 majority of unlikely samples loses to one likely sample
    llm.probs.update({"Answer: 5": 0.9, "Answer: 6": 0.2})
    llm.responder = lambda p, j: ["Answer: 6", "Answer: 6", "Answer: 5", "Answer: 6"][j]
    voted = self_consistency(direct(llm, task="gsm8k"), k=4).invoke("q")
    weighted = self_consistency(direct(llm, task="gsm8k"), k=4, weighting="normalized_prob")
    r = weighted.invoke("q")
    assert voted.answer == "6" and r.answer == "5" and r.confidence == pytest.approx(1 / 4)
    assert r.trace.by_stage("vote")[0].data["weights"] == pytest.approx({"5": 0.9, "6": 0.6})


def test_likelihood_options_need_a_scoring_llm_and_valid_values():
    llm = samples("Answer: 1")
    with pytest.raises(ValueError, match="loglikelihood.*LocalLLM"):
        self_consistency(direct(llm, task="gsm8k"), k=2, tie_break="likelihood").invoke("q")
    with pytest.raises(ValueError, match="loglikelihood.*LocalLLM") as err:
        verifier(direct(llm, task="gsm8k"), k=2, tie_break="likelihood").invoke("q")
    assert str(err.value).startswith("tie_break='likelihood' scores")  # no weighting: not an option
    scoring = ScoringLLM(responder=lambda p, j: "Answer: 1", scored=[])
    with pytest.raises(ValueError, match="weighting(.|\n)*'votes' or 'normalized_prob'"):
        self_consistency(direct(scoring, task="gsm8k"), k=2, weighting="prob").invoke("q")
    with pytest.raises(ValueError, match="tie_break(.|\n)*'first' or 'likelihood'"):
        self_consistency(direct(scoring, task="gsm8k"), k=2, tie_break="last").invoke("q")


def test_verifier_likelihood_tie_break_among_equally_passed_answers():
    """The judge passes everything and the votes tie 2-2: the likelier answer wins, not the first."""
    answers = ["Answer: 1", "Answer: 2", "Answer: 2", "Answer: 1"]
    llm = ScoringLLM(
        responder=lambda p, j: "Verdict: correct" if "Proposed answer:" in p else answers[j],
        probs={"Answer: 1": 0.3, "Answer: 2": 0.7},
        scored=[],
    )
    first = verifier(direct(llm, task="gsm8k"), k=4).invoke({"question": "q", "answer": "2"})
    r = verifier(direct(llm, task="gsm8k"), k=4, tie_break="likelihood").invoke(
        {"question": "q", "answer": "2"}
    )
    assert first.answer == "1" and r.answer == "2" and r.correct
    assert len(llm.scored) == 1 and len(llm.scored[0]) == 4  # generate, judge, then one score call
    assert r.extra["llm_calls"] == 3
