"""Measure chainlab-tiny's Game of 24 skills on states it never saw as training starts.

``chainlab eval-tiny --model chainlab-tiny [--out skills.json]`` reports:

* ``propose``: share of proposal lines that are valid steps (operands present, exact arithmetic,
  ``left`` right), sampled at temperature 0.7 on the ToT test puzzles (4 numbers); also greedy
  (``propose_valid_greedy``: the proposals ``tot_search`` makes by default);
* ``value``: accuracy on a balanced set of solvable / unsolvable 3-number states from the
  held-out bucket (never in training), each reached by one whole-number step from a 1..13 puzzle
  (the states ToT search visits: ``propose`` only makes whole-number steps), greedy
  (``--all-value-states``: every one of the 692 held-out states, unbalanced, with the balanced
  accuracy beside it);
* ``judge``: accuracy on correct vs corrupted final answers of the test puzzles, greedy
  (``--judge-answers K``: K right and K corrupted answers per puzzle, for a larger test set);
  with ``judge_line_accuracy``: how often each kind of line it writes (worked lines on
  fractions or whole numbers, the number lists, ``Same numbers``, ``Makes 24``) equals the target
  of the layout it was trained on (:func:`judge_line_report`), to see which part of a judgment fails;
* ``io`` and ``cot``: greedy success on the test puzzles (for reference);
* ``answer``: greedy share of test puzzles whose ``Answer:`` line is right when the CoT prompt is
  prefilled with a right three-step solution over whole numbers (``answer_success``, on the
  ``answer_puzzles`` that have one) — the one call of ``tot-paper`` that no other skill measures:
  the model writing the final expression from the steps a search found.

Value and judge accuracies come with 95% Wilson intervals (``value_ci95``, ``judge_ci95``), and
the judge's with its two error kinds (right answers rejected, wrong answers accepted).

Test puzzles: data indices 900..999 of ``24.csv`` when found (``--data`` or ``CHAINLAB_DATA``);
otherwise every solvable 4-multiset over 1..13 (the same population; no training start is one).

``--skills arith`` measures the arithmetic word problems instead (base model, or with
``--adapter chainlab-tiny-arith``): step-by-step and direct accuracy and verifier accuracy on
held-out generated problems (the test split of :mod:`chainlab.tasks.arith`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

#: the Game of 24 skills eval-tiny scores, in the order it runs them (``--only`` picks some)
GAME24_SKILLS = ("propose", "value", "judge", "io", "cot", "answer")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """CLI options of ``chainlab eval-tiny``."""
    p.add_argument("--model", default="chainlab-tiny", help="model name or directory")
    p.add_argument("--data", help="path to 24.csv (default: $CHAINLAB_DATA/game24/24.csv)")
    p.add_argument("--puzzles", type=int, default=100, help="test puzzles (default: %(default)s)")
    p.add_argument("--states", type=int, default=200, help="value states (default: %(default)s)")
    p.add_argument("--samples", type=int, default=2, help="propose samples per puzzle")
    p.add_argument(
        "--all-value-states", action="store_true",
        help="score value on every held-out 3-number state (692, unbalanced) instead of a "
        "balanced draw of --states",
    )
    p.add_argument(
        "--judge-answers", type=int, default=1,
        help="right and corrupted answers judged per puzzle, each (default: %(default)s)",
    )
    p.add_argument(
        "--log-samples",
        help="write every value and judge item (prompt input, model output, expected, right) to "
        "this JSONL file, for reading the errors",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", help="write the numbers as JSON here")
    p.add_argument(
        "--skills",
        choices=("game24", "arith"),
        default="game24",
        help="which skills: the Game of 24 ones (default) or arithmetic word problems",
    )
    p.add_argument(
        "--only", metavar="SKILLS",
        help="score only these Game of 24 skills, comma-separated, of "
        f"{','.join(GAME24_SKILLS)} (default: all), e.g. --only judge while working on one skill",
    )
    p.add_argument(
        "--adapter", help="a PEFT adapter to load on the model (e.g. chainlab-tiny-arith)"
    )
    p.add_argument(
        "--problems", type=int, default=200, help="arith test problems (default: %(default)s)"
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--restate-proposals", action=argparse.BooleanOptionalAction, default=True,
        help="prefill propose prompts with the numbers, for a model trained with --propose-format "
        "restated such as chainlab-tiny (default); --no-restate-proposals for the plain layout",
    )
    p.add_argument(
        "--judge-input-first", action="store_true",
        help="prefill judge prompts with the Input line (a model trained with --judge-format "
        "numbers-first, cross-off or cross-off-split)",
    )


def test_puzzles(data: str | None, limit: int, seed: int = 0) -> list[tuple[int, ...]]:
    """The ToT test split (indices 900..999 of 24.csv), or solver-made puzzles over 1..13."""
    from chainlab.models.tiny_data import default_data_dir, load_24_csv

    path = Path(data) if data else None
    if path is None and default_data_dir() is not None:
        path = default_data_dir() / "game24" / "24.csv"
    if path is not None:
        return load_24_csv(path)[900 : 900 + limit]
    from itertools import combinations_with_replacement

    from chainlab.tasks.game24_math import is_solvable

    pool = [c for c in combinations_with_replacement(range(1, 14), 4) if is_solvable(c)]
    random.Random(seed).shuffle(pool)
    return pool[:limit]


def held_out_value_states() -> list[tuple[tuple[Fraction, ...], bool]]:
    """Every held-out 3-number state one whole-number step from a 1..13 puzzle, sorted, with
    whether it is solvable: the states whose :func:`holdout_bucket` is 0 (never trained on; 692
    of them, 90 solvable)."""
    from itertools import combinations_with_replacement

    from chainlab.models.tiny_data import holdout_bucket, whole_moves
    from chainlab.tasks.game24_math import is_solvable

    pool: set[tuple[Fraction, ...]] = set()
    for puzzle in combinations_with_replacement(range(1, 14), 4):
        pool.update(m.left for m in whole_moves(puzzle) if holdout_bucket(m.left) == 0)
    return [(st, is_solvable(st)) for st in sorted(pool)]


def value_states(n: int, seed: int) -> list[tuple[tuple[Fraction, ...], bool]]:
    """A balanced set of held-out 3-number states (:func:`held_out_value_states`):
    ``min(n // 2, solvable, unsolvable)`` of each kind, drawn with ``seed``."""
    kinds: dict[bool, list] = {True: [], False: []}
    for st, ok in held_out_value_states():
        kinds[ok].append(st)
    k = min(n // 2, len(kinds[True]), len(kinds[False]))
    rng = random.Random(seed)
    out = [(st, ok) for ok in (True, False) for st in rng.sample(kinds[ok], k)]
    rng.shuffle(out)
    return out


def judge_items(puzzles, answers: int, rng: random.Random) -> list[tuple[tuple, str, bool]]:
    """``answers`` right and ``answers`` corrupted final answers per puzzle, as (puzzle,
    expression, is right); a puzzle's answers of one kind are distinct where the draws allow
    (up to 20 draws each). With one answer each, the draws are those ``eval-tiny`` always made."""
    from chainlab.models.tiny_data import corrupt_expression, solution

    if answers < 1:
        raise ValueError(f"--judge-answers must be at least 1, got {answers}.")
    items = []
    for p in puzzles:
        seen: set[str] = set()
        for _ in range(answers):
            for good in (True, False):
                for _ in range(20):
                    expr = solution(p, rng)[1] if good else corrupt_expression(p, rng)
                    if expr not in seen:
                        break
                seen.add(expr)
                items.append((p, expr, good))
    return items


def _rate(hits: list[bool]) -> tuple[float, list[float]]:
    """Accuracy and its 95% Wilson interval."""
    from chainlab.eval.stats import wilson_interval

    lo, hi = wilson_interval(sum(hits), len(hits))
    return sum(hits) / max(1, len(hits)), [round(lo, 4), round(hi, 4)]


def _texts(llm, prompts: list[str], **kw) -> list[list[str]]:
    res = llm.generate(prompts, **kw)
    return [[g.text for g in gens] for gens in res.generations]


def _valid_proposals(puzzles, outs: list[list[str]]) -> tuple[int, int]:
    """(valid step lines, non-blank lines other than pair headers) over every completion of
    every puzzle."""
    from chainlab.prompts import game24 as P

    lines = valid = 0
    for p, gens in zip(puzzles, outs, strict=True):
        for g in gens:
            for line in filter(str.strip, g.splitlines()):
                if P.is_pair_header(line):
                    continue  # grouped proposals: a pair's header, not a proposal
                lines += 1
                valid += P.parse_step_line(line, p) is not None
    return valid, lines


def parse_only(text: str | None) -> tuple[str, ...]:
    """An ``--only`` value (``"judge"``, ``"value,judge"``) -> the Game of 24 skills to score, in
    the order they run; ``None`` or empty: all of them. An unknown skill is an error that lists
    the known ones."""
    if not text:
        return GAME24_SKILLS
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(GAME24_SKILLS))
    if unknown or not names:
        raise ValueError(
            f"--only: unknown skill(s) {', '.join(unknown) or repr(text)}; choose from "
            f"{', '.join(GAME24_SKILLS)} (comma-separated, e.g. --only value,judge)."
        )
    return tuple(n for n in GAME24_SKILLS if n in names)


def _propose_scores(llm, puzzles, samples: int, seed: int, restate: bool) -> dict:
    """Valid proposal lines, sampled at temperature 0.7 and greedy."""
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24 import PROPOSE_MAX_NEW_TOKENS

    prompts = [P.propose_prompt(p, restate=restate) for p in puzzles]
    outs = _texts(
        llm, prompts, n=samples, do_sample=True, temperature=0.7,
        max_new_tokens=PROPOSE_MAX_NEW_TOKENS, seed=seed,
    )  # fmt: skip
    valid, lines = _valid_proposals(puzzles, outs)
    res = {"propose_valid": valid / max(1, lines), "propose_lines": lines}
    valid, lines = _valid_proposals(puzzles, _texts(llm, prompts, max_new_tokens=PROPOSE_MAX_NEW_TOKENS))
    res["propose_valid_greedy"] = valid / max(1, lines)
    return res


def _value_scores(llm, states, log: list[dict] | None) -> dict:
    """Greedy value accuracy on ``states`` ((numbers, solvable) pairs), overall and by kind."""
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24_math import format_numbers

    outs = _texts(llm, [P.value_prompt(s) for s, _ in states], max_new_tokens=160)
    hits = [(P.parse_value(o[0]) == "sure") == ok for (s, ok), o in zip(states, outs, strict=True)]
    if log is not None:
        log.extend(
            {"skill": "value", "numbers": format_numbers(st), "expected": "sure" if ok else "impossible",
             "output": o[0], "right": h}
            for (st, ok), o, h in zip(states, outs, hits, strict=True)
        )  # fmt: skip
    res: dict = {}
    res["value_accuracy"], res["value_ci95"] = _rate(hits)
    res["value_states"] = len(hits)
    by_kind = {ok: [h for (_, o), h in zip(states, hits, strict=True) if o is ok] for ok in (True, False)}
    res["value_solvable_accuracy"] = sum(by_kind[True]) / max(1, len(by_kind[True]))
    res["value_unsolvable_accuracy"] = sum(by_kind[False]) / max(1, len(by_kind[False]))
    res["value_balanced_accuracy"] = (res["value_solvable_accuracy"] + res["value_unsolvable_accuracy"]) / 2
    res["example_states"] = [format_numbers(s) for s, _ in states[:3]]
    return res


JUDGE_LINE_KINDS = (
    "fraction", "whole", "missing", "written", "sort", "input", "numbers", "compare", "take", "same", "makes",
)
_FRACTION = re.compile(r"\d/\d")


def judge_line_kind(line: str) -> str | None:
    """Kind of a judge answer line: a worked line on a ``fraction`` (``3 / 1/4 = 12``) or on
    ``whole`` numbers (a replayed step, ``5 6 6 | 5 * 6 = 30 (left: 6 30)``, by its operation),
    a replayed step's ``missing`` operand, or the ``written`` / ``sort`` / ``input`` /
    ``numbers`` / ``compare`` / ``take`` / ``same`` / ``makes`` line; None for the verdict and anything else."""
    line = line.strip()
    if " | " in line:  # a replayed step (judge layout ``steps``): the kind of its operation
        work = line.split(" | ", 1)[1].split(" (left:")[0]
        if work.endswith(" missing"):
            return "missing"
        return "fraction" if _FRACTION.search(work) else "whole"
    if " = " in line and not line.startswith(("Take ", "Verdict")):  # by its operation, not a rewrite after ": "
        return "fraction" if _FRACTION.search(line.split(": ", 1)[0]) else "whole"
    for prefix, kind in (("Written:", "written"), ("Sort:", "sort"), ("Input:", "input"), ("Numbers:", "numbers"),
                         ("Compare:", "compare"), ("Take ", "take"),
                         ("Same numbers:", "same"), ("Makes 24:", "makes")):  # fmt: skip
        if line.startswith(prefix):
            return kind
    return None


def _lines_by_kind(text: str) -> dict[str, list[str]]:
    """A judge answer's lines grouped by kind, worked lines together (``worked``), in order."""
    kinds: dict[str, list[str]] = {}
    for line in text.splitlines():
        kind = judge_line_kind(line)
        if kind in ("fraction", "whole", "missing"):
            kind = "worked"  # its kind (fraction, whole, missing) is the target line's, not the model's
        if kind:
            kinds.setdefault(kind, []).append(line.strip())
    return kinds


def judge_line_report(items, outputs: list[str], judge_format: str = "plain") -> dict:
    """How often the judge's lines, as it wrote them, equal the target layout's
    (:func:`chainlab.models.tiny_data.judge_answer`), by kind (:data:`JUDGE_LINE_KINDS`): the
    k-th target line of a kind against the k-th line of that kind the model wrote (a missing line
    counts wrong). Free-running, so a wrong line can carry into later ones; it names which part
    of the judgment fails. Returns ``{kind: accuracy}`` and ``{kind: target lines}`` under
    ``accuracy`` and ``lines`` (kinds the layout does not have are left out)."""
    from chainlab.models.tiny_data import judge_answer

    right: dict[str, int] = dict.fromkeys(JUDGE_LINE_KINDS, 0)
    total: dict[str, int] = dict.fromkeys(JUDGE_LINE_KINDS, 0)
    for (p, e, _), out in zip(items, outputs, strict=True):
        target, written = _lines_by_kind(judge_answer(p, e, judge_format)), _lines_by_kind(out)
        for kind, lines in target.items():
            mine = written.get(kind, [])
            for k, line in enumerate(lines):
                name = judge_line_kind(line) if kind == "worked" else kind
                total[name] += 1
                right[name] += k < len(mine) and mine[k] == line
    kinds = [k for k in JUDGE_LINE_KINDS if total[k]]
    return {
        "accuracy": {k: round(right[k] / total[k], 4) for k in kinds},
        "lines": {k: total[k] for k in kinds},
    }


def judge_layout(model: str) -> str:
    """The judge layout ``model`` (a packaged name or a directory) was trained on: the
    ``judge_format`` of its ``training_summary.json`` (installed) or ``training_log.json`` (as
    ``train-tiny`` saved it), ``plain`` when neither says."""
    from chainlab.models.registry import packaged_path

    path = packaged_path(model) or Path(model)
    for name in ("training_summary.json", "training_log.json"):
        try:
            return json.loads((path / name).read_text())["config"].get("judge_format", "plain")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return "plain"


def _judge_scores(llm, items, input_first: bool, log: list[dict] | None, layout: str = "plain") -> dict:
    """Greedy judge accuracy on ``items`` (see :func:`judge_items`) and its two error kinds."""
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24_math import format_numbers

    outs = _texts(llm, [P.judge_prompt(p, e, input_first=input_first) for p, e, _ in items], max_new_tokens=128)
    hits = [P.parse_judge(o[0]) is ok for (_, _, ok), o in zip(items, outs, strict=True)]
    if log is not None:
        log.extend(
            {"skill": "judge", "numbers": format_numbers(p), "answer": e,
             "expected": "correct" if ok else "incorrect", "output": o[0], "right": h}
            for (p, e, ok), o, h in zip(items, outs, hits, strict=True)
        )  # fmt: skip
    res: dict = {}
    res["judge_accuracy"], res["judge_ci95"] = _rate(hits)
    res["judge_items"] = len(hits)
    misses = [ok for (_, _, ok), h in zip(items, hits, strict=True) if not h]
    res["judge_right_rejected"], res["judge_wrong_accepted"] = misses.count(True), misses.count(False)
    prefill = [f"Input: {format_numbers(p)}\n" if input_first else "" for p, _, _ in items]
    report = judge_line_report(items, [a + o[0] for a, o in zip(prefill, outs, strict=True)], layout)
    res["judge_layout"] = layout
    res["judge_line_accuracy"], res["judge_line_counts"] = report["accuracy"], report["lines"]
    return res


def _success(llm, puzzles, skill: str) -> float:
    """Greedy share of ``puzzles`` solved by the ``io`` or ``cot`` prompt."""
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24_math import check_answer

    if skill == "io":
        outs = _texts(llm, [P.io_prompt(p) for p in puzzles], max_new_tokens=48)
        answers = [o[0] for o in outs]
    else:
        outs = _texts(llm, [P.cot_prompt(p) for p in puzzles], max_new_tokens=160)
        answers = [P.parse_answer(o[0]) or "" for o in outs]
    return sum(check_answer(p, a) for p, a in zip(puzzles, answers, strict=True)) / len(puzzles)


def answer_paths(puzzles, seed: int = 0) -> list[tuple[tuple, list]]:
    """(puzzle, steps) for each puzzle with a solution whose results are all whole numbers (the
    paths a search over ``propose``'s whole-number steps can find), one path drawn per puzzle."""
    from chainlab.tasks.game24_math import solution_paths

    rng = random.Random(seed)
    out = []
    for p in puzzles:
        paths = [q for q in solution_paths(p) if all(s.result.denominator == 1 for s in q)]
        if paths:
            out.append((tuple(p), rng.choice(paths)))
    return out


def _answer_scores(llm, puzzles, seed: int) -> dict:
    """Greedy ``Answer:`` lines written after a right solution's three steps (prefilled)."""
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24_math import check_answer

    items = answer_paths(puzzles, seed)
    if not items:
        return {"answer_success": None, "answer_puzzles": 0}
    outs = _texts(llm, [P.cot_prompt(p, steps) for p, steps in items], max_new_tokens=96)
    right = [check_answer(p, P.parse_answer(o[0]) or "") for (p, _), o in zip(items, outs, strict=True)]
    return {"answer_success": sum(right) / len(right), "answer_puzzles": len(right)}


def evaluate(
    llm,
    puzzles,
    n_states: int = 200,
    samples: int = 2,
    seed: int = 0,
    restate: bool = True,
    judge_input_first: bool = False,
    all_value_states: bool = False,
    judge_answers: int = 1,
    log: list[dict] | None = None,
    only: tuple[str, ...] = GAME24_SKILLS,
    judge_format: str = "plain",
) -> dict:
    """All skill numbers for ``llm`` (a LocalLLM or any LangChain LLM accepting these kwargs);
    ``restate``: propose prompts prefilled with the numbers (``propose_prompt(restate=True)``);
    ``judge_input_first``: judge prompts prefilled with the Input line
    (``judge_prompt(input_first=True)``); ``all_value_states``: every held-out value state instead
    of ``n_states`` balanced ones; ``judge_answers``: right and corrupted answers per puzzle;
    ``log``: a list that gets one record per value and judge item (see ``--log-samples``);
    ``only``: the skills to score (:data:`GAME24_SKILLS`; the others' keys are left out);
    ``judge_format``: the judge layout the model was trained on, for the line report
    (:func:`judge_line_report`). A skill scores the same items whether or not the others run."""
    res: dict = {"puzzles": len(puzzles), "skills": list(only)}
    t0 = time.time()
    if "propose" in only:
        res.update(_propose_scores(llm, puzzles, samples, seed, restate))
    if "value" in only:
        states = held_out_value_states() if all_value_states else value_states(n_states, seed)
        res.update(_value_scores(llm, states, log))
    if "judge" in only:
        items = judge_items(puzzles, judge_answers, random.Random(seed))
        res.update(_judge_scores(llm, items, judge_input_first, log, judge_format))
    for skill in ("io", "cot"):
        if skill in only:
            res[f"{skill}_success"] = _success(llm, puzzles, skill)
    if "answer" in only:
        res.update(_answer_scores(llm, puzzles, seed))
    res["seconds"] = round(time.time() - t0, 1)
    return res


def evaluate_arith(llm, n: int = 200, seed: int = 0) -> dict:
    """Arithmetic word-problem skills on ``n`` held-out (test split) problems, greedy."""
    from chainlab.prompts.arith import direct_prompt, parse_verdict, steps_prompt, verify_prompt
    from chainlab.tasks.arith import (
        corrupt_solution,
        generate_problems,
        parse_answer,
        step_by_step_solution,
    )

    t0 = time.time()
    problems = generate_problems(n, seed, split="test")
    res: dict = {"problems": n}
    for kind, build in (("steps", steps_prompt), ("direct", direct_prompt)):
        outs = _texts(llm, [build(p.question) for p in problems], max_new_tokens=80)
        hits = [parse_answer(o[0]) == p.answer for p, o in zip(problems, outs, strict=True)]
        res[f"{kind}_accuracy"] = sum(hits) / n
    rng = random.Random(f"eval-verify:{seed}")
    items = []
    for i, p in enumerate(problems):
        good = i % 2 == 0
        items.append((p, step_by_step_solution(p) if good else corrupt_solution(p, rng), good))
    outs = _texts(llm, [verify_prompt(p.question, s) for p, s, _ in items], max_new_tokens=128)
    hits = [parse_verdict(o[0]) is good for (_, _, good), o in zip(items, outs, strict=True)]
    res["verify_accuracy"] = sum(hits) / n
    res["seconds"] = round(time.time() - t0, 1)
    return res


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab eval-tiny``."""
    from chainlab.llms import load_llm

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.skills == "arith" and args.only:
        raise ValueError("--only picks Game of 24 skills; it does not apply to --skills arith (drop it).")
    only = parse_only(args.only)  # a typo fails before the model loads
    llm = load_llm(args.model, adapter=args.adapter, batch_size=args.batch_size)
    if args.skills == "arith":
        res = evaluate_arith(llm, args.problems, args.seed)
    else:
        puzzles = test_puzzles(args.data, args.puzzles, args.seed)
        log: list[dict] | None = [] if args.log_samples else None
        res = evaluate(
            llm, puzzles, args.states, args.samples, args.seed, args.restate_proposals,
            args.judge_input_first, args.all_value_states, args.judge_answers, log, only,
            judge_layout(args.model),
        )
        if log is not None:
            Path(args.log_samples).parent.mkdir(parents=True, exist_ok=True)
            with open(args.log_samples, "w") as f:
                f.writelines(json.dumps(rec) + "\n" for rec in log)
        res["restate_proposals"] = args.restate_proposals
        res["judge_input_first"] = args.judge_input_first
    res["model"] = args.model
    res["adapter"] = args.adapter
    for k, v in res.items():
        print(f"{k:>16}: {v:.3f}" if isinstance(v, float) else f"{k:>16}: {v}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m chainlab.models.eval_skills", description=__doc__)
    add_arguments(p)
    sys.exit(run(p.parse_args()))
