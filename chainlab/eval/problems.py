"""The problem sets of ``chainlab compare``: which file, which slice, and the built-in Game of 24 set.

Game of 24 defaults to the Tree-of-Thoughts paper's test split (data indices 900..999 of
``24.csv``) when the file is given with ``--data`` or found as ``game24/24.csv`` in the data
directory (:mod:`chainlab.tasks.data`: ``$CHAINLAB_DATA``, then ``../shared/data`` beside the
repository). Without it, a built-in set is used (:func:`generated_game24`): all 1820 multisets of 4 numbers
from 1..13 in sorted order, shuffled with ``random.Random(0)``, keeping the solvable ones in
shuffled order (1362 in all); the default is the first 100. ``--split START:END`` indexes the
whole file (or the whole built-in set); ``--limit N`` then keeps the first N.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainlab.eval.datafiles import read_game24_csv, read_qa_jsonl, read_svamp_json

__all__ = [
    "TASK_CHOICES",
    "ProblemSet",
    "ProblemSetError",
    "generated_game24",
    "parse_split",
    "load_problems",
    "GENERATED_SEED",
]

#: tasks of ``chainlab compare``
TASK_CHOICES = ("game24", "gsm8k", "svamp", "arith", "jsonl")
#: the ToT paper's Game of 24 test split
TOT_TEST_SPLIT = (900, 1000)
#: default size of the built-in Game of 24 set
GENERATED_DEFAULT = 100
#: shuffle seed of the built-in Game of 24 set (fixed: the set never depends on --seed)
GENERATED_SEED = 0
#: default number of generated arith problems
ARITH_DEFAULT = 100


class ProblemSetError(ValueError):
    """Bad task, data path or split."""


@dataclass
class ProblemSet:
    """Problems, the task that scores them, and a description of where they come from."""

    task: Any
    problems: list[dict[str, Any]]
    source: str
    settings: dict[str, Any] = field(default_factory=dict)


def _iter_generated() -> Iterator[tuple[int, int, int, int]]:
    from chainlab.tasks.game24_math import is_solvable

    pool = list(itertools.combinations_with_replacement(range(1, 14), 4))
    random.Random(GENERATED_SEED).shuffle(pool)
    for nums in pool:
        if is_solvable(nums):
            yield nums


def generated_game24(n: int | None = GENERATED_DEFAULT, start: int = 0) -> list[dict[str, Any]]:
    """Built-in Game of 24 problems ``start..start+n-1`` (all remaining when ``n`` is None).

    Ids are ``"gen-<index>"``; see the module docstring for how the set is drawn.
    """
    stop = None if n is None else start + n
    out = []
    for i, nums in enumerate(itertools.islice(_iter_generated(), start, stop), start):
        text = " ".join(str(x) for x in nums)
        out.append({"id": f"gen-{i}", "numbers": text, "question": text})
    return out


def parse_split(text: str | None) -> tuple[int | None, int | None] | None:
    """``"900:1000"`` -> ``(900, 1000)``; either side may be empty (``"900:"``); None -> None."""
    if text is None:
        return None
    if text.count(":") != 1:
        raise ProblemSetError(f"--split must be START:END (e.g. 900:1000), got {text!r}.")
    a, b = (p.strip() for p in text.split(":"))
    try:
        start = int(a) if a else None
        end = int(b) if b else None
    except ValueError:
        raise ProblemSetError(f"--split must be START:END with integers, got {text!r}.") from None
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ProblemSetError(f"--split {text}: indices must be >= 0.")
    return start, end


def _slice(
    rows: list[Any], split: tuple[int | None, int | None], what: str, text: str
) -> list[Any]:
    n = len(rows)
    start = 0 if split[0] is None else split[0]
    end = n if split[1] is None else split[1]
    if not 0 <= start < end <= n:
        raise ProblemSetError(
            f"--split {text} is out of range: {what} has {n} problems "
            f"(use START:END with 0 <= START < END <= {n})."
        )
    return rows[start:end]


def _find(data: str | None, task: str, filename: str) -> Path:
    """The data file of ``task``: ``--data`` (a file, or a directory holding it), else the data dir."""
    if data is not None:
        p = Path(data).expanduser()
        if p.is_dir():
            for cand in (p / task / filename, p / filename):
                if cand.is_file():
                    return cand
            raise ProblemSetError(f"--data {data}: no {task}/{filename} or {filename} in it.")
        if not p.is_file():
            raise ProblemSetError(f"--data {data}: no such file.")
        return p
    from chainlab.tasks.data import data_path

    try:
        return data_path(task, filename)
    except FileNotFoundError as exc:
        raise ProblemSetError(f"{exc} Or pass --data PATH.") from None


def _game24_csv(data: str | None) -> Path | None:
    """``--data``, else ``game24/24.csv`` of the data directory, else None (the built-in set)."""
    if data is not None:
        return _find(data, "game24", "24.csv")
    from chainlab.tasks.data import find_data_file

    return find_data_file("game24", "24.csv")


def _load_game24(data: str | None, split: Any, split_text: str | None):
    from chainlab.tasks.game24 import Game24Task

    path = _game24_csv(data)
    if path is not None:
        rows = read_game24_csv(path)
        if split is None:
            lo, hi = TOT_TEST_SPLIT
            if len(rows) < hi:
                raise ProblemSetError(
                    f"{path} has {len(rows)} puzzles, fewer than the ToT test split {lo}:{hi} "
                    f"needs; pass --split START:END."
                )
            picked, desc = rows[lo:hi], f"{path} [{lo}:{hi}] (ToT test split)"
        else:
            picked = _slice(rows, split, str(path), split_text or "")
            desc = f"{path} [{split_text}]"
        return Game24Task(), picked, desc, str(path.resolve())
    gen_desc = (
        "built-in Game of 24 set (solvable 4-multisets over 1..13, "
        f"random.Random({GENERATED_SEED}) shuffle)"
    )
    if split is None:
        return Game24Task(), generated_game24(), f"{gen_desc} [0:{GENERATED_DEFAULT}]", "generated"
    rows = generated_game24(None)
    picked = _slice(rows, split, "the built-in Game of 24 set", split_text or "")
    return Game24Task(), picked, f"{gen_desc} [{split_text}]", "generated"


def load_problems(
    task: str,
    data: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    *,
    matcher: str = "exact",
    question_field: str = "question",
    answer_field: str = "answer",
) -> ProblemSet:
    """The task and problems ``chainlab compare`` runs (see the module docstring).

    Raises:
        ProblemSetError: unknown task, missing/unusable data, split out of range, bad limit.
        DataFileError: a malformed data file (names the line and field).
    """
    name = str(task).strip().lower()
    if name not in TASK_CHOICES:
        raise ProblemSetError(f"Unknown task {task!r}. Valid tasks: {', '.join(TASK_CHOICES)}.")
    if limit is not None and limit < 1:
        raise ProblemSetError(f"--limit must be >= 1, got {limit}.")
    rng = parse_split(split)

    if name == "game24":
        task_obj, problems, desc, source = _load_game24(data, rng, split)
    elif name == "gsm8k":
        from chainlab.tasks.gsm8k import GSM8KTask, gold_from_solution

        path = _find(data, "gsm8k", "test.jsonl")
        rows = read_qa_jsonl(path, gold=lambda a: gold_from_solution(str(a)))
        problems = _slice(rows, rng, str(path), split or "") if rng else rows
        task_obj, desc, source = GSM8KTask(), f"{path}" + (f" [{split}]" if rng else ""), str(path)
    elif name == "svamp":
        from chainlab.tasks.svamp import SVAMPTask

        path = _find(data, "svamp", "SVAMP.json")
        rows = read_svamp_json(path)
        problems = _slice(rows, rng, str(path), split or "") if rng else rows
        task_obj, desc, source = SVAMPTask(), f"{path}" + (f" [{split}]" if rng else ""), str(path)
    elif name == "jsonl":
        from chainlab.tasks.jsonl import JsonlTask

        if data is None:
            raise ProblemSetError("--task jsonl needs --data PATH (a JSONL file of problems).")
        path = _find(data, "jsonl", "problems.jsonl")
        rows = read_qa_jsonl(path, question_field, answer_field)
        problems = _slice(rows, rng, str(path), split or "") if rng else rows
        task_obj = JsonlTask(path, question_field, answer_field, matcher=matcher)
        desc, source = f"{path}" + (f" [{split}]" if rng else ""), str(path)
    else:  # arith
        from chainlab.tasks.synthetic import ArithTask

        if data is not None:
            raise ProblemSetError("--task arith generates its problems; it takes no --data.")
        start, end = rng if rng else (None, None)
        start = start or 0
        if end is None:
            end = start + (limit if limit is not None else ARITH_DEFAULT)
        if start >= end:
            raise ProblemSetError(f"--split {split} is empty (START must be < END).")
        task_obj = ArithTask(n=end)
        problems = task_obj.load("test", limit=end)[start:end]
        desc, source = f"generated arith test problems [{start}:{end}] (seed 0)", "generated"

    if limit is not None and limit < len(problems):
        problems = problems[:limit]
        desc += f", first {limit}"
    if not problems:
        raise ProblemSetError(f"No problems selected for task {name!r} ({desc}).")
    settings = {"task": name, "data": source, "split": split, "limit": limit}
    if name == "jsonl":
        settings.update(matcher=matcher, question_field=question_field, answer_field=answer_field)
    return ProblemSet(task_obj, problems, desc, settings)
