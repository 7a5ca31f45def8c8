"""Verifier training data from the model's *own* mistakes (a second SFT round for the arith adapter).

A verifier trained only on synthetic corruptions (:func:`chainlab.tasks.arith.corrupt_solution`:
one result off by 1-10) learns to catch those, and little else: on the adapter's own sampled
solutions the first ``chainlab-tiny-arith`` passed 257 of 315 wrong ones. Its own mistakes are
different — wrong sums that it finds plausible itself (``70 + 9 = 83``), which the check then
recomputes the same wrong way by copying the line it reads. Cobbe et al. (2021, GSM8K verifiers)
train the verifier on the generator's own samples for exactly this reason.

:func:`self_sample_records` samples ``k`` step-by-step solutions per problem (as
``self_consistency`` and ``verifier`` do) from fresh train-split problems and turns every distinct
wrong one, plus one right one of the same problem, into a ``verify`` record whose target is
:func:`~chainlab.tasks.arith.verify_check` of that text: the true worked check, so it says where
the arithmetic went wrong. ``chainlab arith-data --self-samples ADAPTER`` appends them to the
ordinary records.

Measured on ``chainlab-tiny-arith`` (README): the retrained judge rejected 20% of the adapter's
own wrong samples instead of 18% — a round that did not pay off for this 5M-parameter model, whose
judge shares the generator's arithmetic; it is kept as a tool for larger generator/judge pairs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from chainlab.prompts.arith import steps_prompt, verify_prompt
from chainlab.tasks.arith import (
    ArithProblem,
    parse_answer,
    step_by_step_solution,
    verify_check,
)


def sample_solutions(
    llm: Any,
    problems: Sequence[ArithProblem],
    k: int = 4,
    temperature: float = 0.7,
    seed: int = 0,
    chunk: int = 64,
    progress: bool = True,
) -> list[list[str]]:
    """``k`` sampled step-by-step solutions (stripped completion texts) per problem.

    ``llm`` is a chainlab ``LocalLLM`` (or any LangChain LLM accepting ``n``, ``do_sample``,
    ``temperature``, ``max_new_tokens`` and ``seed``). Problems go in chunks of ``chunk``; each
    chunk gets its own seed (``seed + chunk index``), so a run is reproducible.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    from tqdm import tqdm

    out: list[list[str]] = []
    starts = range(0, len(problems), chunk)
    for c, i in enumerate(tqdm(starts, desc="sampling", unit="chunk", disable=not progress)):
        batch = problems[i : i + chunk]
        res = llm.generate(
            [steps_prompt(p.question) for p in batch],
            n=k,
            do_sample=True,
            temperature=temperature,
            max_new_tokens=80,
            seed=seed + c,
        )
        out.extend([g.text.strip() for g in gens] for gens in res.generations)
    return out


def self_sample_records(
    problems: Sequence[ArithProblem],
    samples: Sequence[Sequence[str]],
    max_wrong: int = 2,
    seed: int = 0,
) -> tuple[list[dict], dict[str, int]]:
    """``verify`` SFT records built on sampled solutions, and counts of what was found.

    For each problem with a wrong sample (its ``Answer:`` is not the problem's answer): up to
    ``max_wrong`` distinct wrong samples and one right one (a sampled right solution when there is
    one, else the reference solution), in random order. Problems whose samples are all right give
    nothing: the ordinary records already hold plenty of right solutions.
    """
    rng = random.Random(f"arith-self:{seed}")
    records: list[dict] = []
    stats = {"problems": len(problems), "samples": 0, "wrong_samples": 0, "problems_with_wrong": 0}
    for p, texts in zip(problems, samples, strict=True):
        stats["samples"] += len(texts)
        uniq = list(dict.fromkeys(t for t in texts if t))
        wrong = [t for t in uniq if parse_answer(t) != p.answer]
        right = [t for t in uniq if parse_answer(t) == p.answer]
        stats["wrong_samples"] += sum(parse_answer(t) != p.answer for t in texts)
        if not wrong:
            continue
        stats["problems_with_wrong"] += 1
        chosen = wrong[:max_wrong] + [right[0] if right else step_by_step_solution(p)]
        rng.shuffle(chosen)
        for text in chosen:
            records.append(
                {
                    "prompt": verify_prompt(p.question, text),
                    "completion": verify_check(text),
                    "kind": "verify",
                    "key": p.key,
                    "source": "self",
                }
            )
    stats["records"] = len(records)
    return records, stats
