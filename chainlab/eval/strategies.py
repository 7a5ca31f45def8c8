"""The CLI's short strategy names, their task-appropriate defaults, and ``--strategy-opts`` parsing.

=================  ==============================================================================
``io``             ``direct(llm, task)``
``few-shot``       ``few_shot(llm, examples=<task examples>, task)``: Game of 24 and arith have
                   built-in examples, GSM8K takes the first 3 train problems; otherwise give
                   ``few-shot.examples`` as JSON
``cot``            ``chain_of_thought(llm, task)``
``cot-sc``         ``self_consistency(chain_of_thought(llm, task), k=10)``
``cot-composed``   ``chain_of_thought(llm, task, compose_answer=True)``: the answer is written from
                   the validated steps when they reach it (Game of 24), as ``tot`` does
``cot-sc-composed`` ``self_consistency(chain_of_thought(llm, task, compose_answer=True), k=10)``
``verifier``       ``verifier(chain_of_thought(llm, task), k=5)``
``tot``            ``tot_search(llm, task, method="bfs", b=5,
                   search_options={"compose_answer": True})``: Tree-of-Thoughts BFS whose final
                   ``Answer:`` line is written from the validated steps of a state that reached 24
                   (no LLM call for it) — the default a user gets (tasks with a search protocol)
``tot-paper``      ``tot_search(llm, task, method="bfs", b=5,
                   search_options={"compose_answer": False})``: the ToT paper's way — the model
                   writes the ``Answer:`` line from the CoT prompt and the judge values it
``tot-dfs``        ``tot_search(llm, task, method="dfs")``
``least-to-most``  ``least_to_most(llm, task)``
=================  ==============================================================================

Options go to the factory (``cot-sc.k=5``, ``tot.b=3``, ``cot.max_new_tokens=128``); for the
strategies over a CoT base (``cot-sc``, ``verifier``), ``base.X`` options go to the base
(``cot-sc.base.max_new_tokens=128``). Unknown options are errors, never silently ignored. A dict
option given for a dict default is merged into it: ``tot.search_options={"steps": 4}`` keeps
``compose_answer``; ``tot.search_options={"compose_answer": false}`` turns it off.

Completion lengths: unless given (``cot.max_new_tokens=...``, ``tot.max_new_tokens=...``,
``tot.value_max_new_tokens=...``), each strategy uses what the task's prompts need — Game of 24:
IO 48, CoT 128 (also the base of ``cot-sc``/``verifier``), ToT proposals 512 (every whole-number
move, ~25 lines), ToT values 192 (a worked check ending ``sure``/``impossible``), the ToT answer
line 128 and the judge 128 (see :mod:`chainlab.tasks.game24`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "STRATEGY_SPECS",
    "StrategySpec",
    "StrategyConfigError",
    "parse_strategy_names",
    "parse_strategy_opts",
    "build_strategies",
    "default_examples",
]

#: names of factory/class parameters that are objects supplied by the CLI, not options
_NOT_OPTIONS = {
    "llm", "task", "base", "kwargs", "name", "args", "search_task", "example_selector",
    "judge_llm", "judge", "parse_judge", "prompt", "prompts", "decompose_prompt", "solve_prompt",
}  # fmt: skip


class StrategyConfigError(ValueError):
    """Unknown strategy name, bad option, or a strategy that does not fit the task."""


@dataclass(frozen=True)
class StrategySpec:
    """How a CLI strategy name is built.

    Attributes:
        factory: key of :data:`chainlab.chains.STRATEGIES`.
        cls: the strategy class in :mod:`chainlab.chains` (its fields are valid options).
        defaults: factory keyword defaults (overridable by options).
        over_cot: the factory wraps a ``chain_of_thought`` base.
        base_defaults: keyword defaults of that base (overridable by ``base.X`` options).
        needs_search: the task must have a Tree-of-Thoughts search protocol.
    """

    name: str
    description: str
    factory: str
    cls: str
    defaults: dict[str, Any] = field(default_factory=dict)
    over_cot: bool = False
    needs_search: bool = False
    base_defaults: dict[str, Any] = field(default_factory=dict)


STRATEGY_SPECS: dict[str, StrategySpec] = {
    s.name: s
    for s in (
        StrategySpec("io", "direct (input-output) prompting", "direct", "Direct"),
        StrategySpec("few-shot", "few-shot prompting", "few_shot", "FewShot"),
        StrategySpec("cot", "chain of thought", "chain_of_thought", "ChainOfThought"),
        StrategySpec(
            "cot-sc", "self-consistency over CoT (k=10)", "self_consistency", "SelfConsistency",
            {"k": 10}, over_cot=True,
        ),
        StrategySpec(
            "cot-composed", "chain of thought, the answer written from the validated steps",
            "chain_of_thought", "ChainOfThought", {"compose_answer": True},
        ),
        StrategySpec(
            "cot-sc-composed",
            "self-consistency over CoT (k=10), answers written from the validated steps",
            "self_consistency", "SelfConsistency", {"k": 10}, over_cot=True,
            base_defaults={"compose_answer": True},
        ),
        StrategySpec(
            "verifier", "CoT samples checked by a judge (k=5)", "verifier", "Verifier",
            {"k": 5}, over_cot=True,
        ),
        StrategySpec(
            "tot", "Tree-of-Thoughts BFS (b=5), answer written from the validated steps",
            "tot_search", "TotSearch",
            {"method": "bfs", "b": 5, "search_options": {"compose_answer": True}},
            needs_search=True,
        ),
        StrategySpec(
            "tot-paper", "Tree-of-Thoughts BFS (b=5) as in the paper: the model writes the answer",
            "tot_search", "TotSearch",
            {"method": "bfs", "b": 5, "search_options": {"compose_answer": False}},
            needs_search=True,
        ),
        StrategySpec(
            "tot-dfs", "Tree-of-Thoughts DFS", "tot_search", "TotSearch",
            {"method": "dfs"}, needs_search=True,
        ),
        StrategySpec("least-to-most", "least-to-most prompting", "least_to_most", "LeastToMost"),
    )
}  # fmt: skip

_ALIASES = {
    "direct": "io",
    "fewshot": "few-shot",
    "few_shot": "few-shot",
    "chain_of_thought": "cot",
    "self_consistency": "cot-sc",
    "sc": "cot-sc",
    "tot-bfs": "tot",
    "tot_search": "tot",
    "tot_paper": "tot-paper",
    "least_to_most": "least-to-most",
    "ltm": "least-to-most",
}


def _valid_names() -> str:
    return ", ".join(f"{n} ({s.description})" for n, s in STRATEGY_SPECS.items())


def parse_strategy_names(text: str | Sequence[str]) -> list[str]:
    """``"io,cot,cot-sc"`` -> ``["io", "cot", "cot-sc"]`` (aliases resolved, order kept).

    Raises:
        StrategyConfigError: empty list, unknown or repeated name (the message lists valid ones).
    """
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    names: list[str] = []
    for raw in (p.strip() for p in parts):
        if not raw:
            continue
        name = _ALIASES.get(raw.lower(), raw.lower())
        if name not in STRATEGY_SPECS:
            raise StrategyConfigError(
                f"Unknown strategy {raw!r}. Valid strategies: {_valid_names()}."
            )
        if name in names:
            raise StrategyConfigError(f"Strategy {name!r} is listed twice.")
        names.append(name)
    if not names:
        raise StrategyConfigError(f"No strategy given. Valid strategies: {_valid_names()}.")
    return names


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_strategy_opts(
    items: Sequence[str] | None, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Options per strategy from ``--strategy-opts`` items.

    Each item is a JSON object ``{"cot-sc": {"k": 5}}`` or ``strategy.key=value`` (the value is
    JSON when it parses, else a string: ``tot.b=3``, ``cot.mode=zero_shot``). Later items win.

    Raises:
        StrategyConfigError: malformed item, or a strategy that is not in ``names``.
    """
    out: dict[str, dict[str, Any]] = {}

    def put(strategy: str, key: str, value: Any, item: str) -> None:
        name = _ALIASES.get(strategy.strip().lower(), strategy.strip().lower())
        if name not in names:
            raise StrategyConfigError(
                f"--strategy-opts {item!r}: {strategy!r} is not one of the strategies being "
                f"compared ({', '.join(names)})."
            )
        if not key:
            raise StrategyConfigError(f"--strategy-opts {item!r}: missing option name.")
        out.setdefault(name, {})[key] = value

    for item in items or []:
        text = item.strip()
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise StrategyConfigError(f"--strategy-opts: invalid JSON ({exc}).") from None
            if not isinstance(obj, dict) or not all(isinstance(v, dict) for v in obj.values()):
                raise StrategyConfigError(
                    "--strategy-opts JSON must map strategies to option objects, e.g. "
                    '{"cot-sc": {"k": 5}}.'
                )
            for strategy, opts in obj.items():
                for key, value in opts.items():
                    put(strategy, str(key), value, text)
            continue
        if "=" not in text or "." not in text.split("=", 1)[0]:
            raise StrategyConfigError(
                f"--strategy-opts {item!r}: expected strategy.option=value (e.g. cot-sc.k=5) "
                f"or a JSON object."
            )
        lhs, rhs = text.split("=", 1)
        strategy, key = lhs.split(".", 1)
        put(strategy, key.strip(), _value(rhs.strip()), text)
    return out


def _option_names(factory: Any, cls: Any) -> set[str]:
    params = set(inspect.signature(factory).parameters)
    fields = set(getattr(cls, "model_fields", {}))
    return (params | fields) - _NOT_OPTIONS


#: Game of 24 demonstrations for ``few-shot`` (answers checked by the tests)
GAME24_EXAMPLES = [
    {"numbers": "4 5 6 10", "answer": "Answer: (10 - 6) + (4 * 5) = 24"},
    {"numbers": "1 2 3 4", "answer": "Answer: 4 * ((1 + 2) + 3) = 24"},
    {"numbers": "2 3 5 12", "answer": "Answer: 12 / (3 - (5 / 2)) = 24"},
]


def default_examples(task: Any, k: int = 3) -> list[dict[str, Any]]:
    """Few-shot examples for ``task``: built in for game24, train problems for gsm8k/arith.

    Raises:
        StrategyConfigError: the task has no default examples.
    """
    name = getattr(task, "name", "")
    hint = (
        'Give them with --strategy-opts \'{"few-shot": {"examples": '
        '[{"question": "...", "answer": "..."}]}}\'.'
    )
    if name == "game24":
        return [dict(e) for e in GAME24_EXAMPLES[:k]]
    try:
        if name == "gsm8k":
            from chainlab.tasks.gsm8k import GSM8KTask

            rows = GSM8KTask(data_root=getattr(task, "data_root", None)).load("train", limit=k)
        elif name == "arith":
            rows = type(task)().load("train", limit=k)
        else:
            raise StrategyConfigError(f"few-shot has no default examples for task {name!r}. {hint}")
    except FileNotFoundError as exc:
        raise StrategyConfigError(
            f"few-shot: no training data for examples ({exc}). {hint}"
        ) from None
    return [{"question": r["question"], "answer": f"Answer: {r['answer']}"} for r in rows]


def _check_task(spec: StrategySpec, task: Any) -> None:
    if spec.needs_search:
        try:
            task.search_task()
        except NotImplementedError:
            raise StrategyConfigError(
                f"Strategy {spec.name!r} needs a task with a Tree-of-Thoughts search protocol "
                f"(game24); task {getattr(task, 'name', task)!r} has none."
            ) from None


def build_strategies(
    names: Sequence[str],
    llm: Any,
    task: Any,
    opts: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{name: strategy}`` for CLI strategy names, with task defaults and ``opts`` applied.

    Raises:
        StrategyConfigError: unknown name/option, invalid value, strategy unfit for the task.
    """
    import chainlab.chains as chains

    opts = opts or {}
    out: dict[str, Any] = {}
    for name in names:
        if name not in STRATEGY_SPECS:
            raise StrategyConfigError(
                f"Unknown strategy {name!r}. Valid strategies: {_valid_names()}."
            )
        spec = STRATEGY_SPECS[name]
        _check_task(spec, task)
        factory = chains.STRATEGIES[spec.factory]
        cls = getattr(chains, spec.cls)
        given = dict(opts.get(name, {}))
        base_opts = {k[5:]: given.pop(k) for k in list(given) if k.startswith("base.")}
        valid = _option_names(factory, cls)
        unknown = sorted(set(given) - valid)
        if base_opts and not spec.over_cot:
            unknown.append("base.*")
        if unknown:
            raise StrategyConfigError(
                f"Unknown option(s) for {name}: {', '.join(unknown)}. Valid: {', '.join(sorted(valid))}"
                + (" and base.<option of cot>." if spec.over_cot else ".")
            )
        kwargs = {**spec.defaults, **given}
        for key, value in given.items():  # dict options are merged into dict defaults
            default = spec.defaults.get(key)
            if isinstance(default, dict) and isinstance(value, dict):
                kwargs[key] = {**default, **value}
        if name == "few-shot" and "examples" not in kwargs and "example_selector" not in kwargs:
            kwargs["examples"] = default_examples(task)
        try:
            if spec.over_cot:
                base_valid = _option_names(chains.chain_of_thought, chains.ChainOfThought)
                bad = sorted(set(base_opts) - base_valid)
                if bad:
                    raise StrategyConfigError(
                        f"Unknown base option(s) for {name}: {', '.join(bad)}. "
                        f"Valid: {', '.join(sorted(base_valid))}."
                    )
                base = chains.chain_of_thought(llm, task=task, **{**spec.base_defaults, **base_opts})
                strategy = factory(base, **kwargs)
            else:
                strategy = factory(llm, task=task, **kwargs)
            strategy.validate_params()
        except StrategyConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise StrategyConfigError(f"Invalid options for {name}: {exc}") from None
        out[name] = strategy
    return out
