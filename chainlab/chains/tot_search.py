"""Tree-of-Thoughts search (Yao et al., 2023): BFS as in princeton-nlp/tree-of-thought-llm, and DFS.

BFS (``methods/bfs.py``), for ``steps`` levels:

1. *generate*: every frontier state is expanded by ``propose`` (one completion listing next
   thoughts) or ``sample`` (``n_generate_sample`` completions of the task's sample prompt);
2. *evaluate*: every new state gets a ``value`` (``n_evaluate_sample`` value completions, each read
   by the task, e.g. sure/likely/impossible = 20/1/0.001, summed) or ``vote`` scores;
3. *select*: the ``n_select_sample`` (beam ``b``) best states, ``greedy`` or ``sample`` (∝ value).

Batching: per level, ONE LLM call holds every proposal prompt of every frontier state (of every
problem in a batch), and ONE call every value prompt. Identical prompts are sent once (a per-run
cache: duplicate states and repeated value prompts cost nothing), duplicate states are merged.

DFS expands the best child first, prunes children whose value is below ``value_threshold``, and
backtracks when a subtree holds no accepted final state; it stops after ``n_solutions`` accepted
finals or ``max_visits`` expansions (one proposal call and one value call per expansion).

Before any prompt is built, the search task's ``static_expansion(problem, state)`` may expand a
state without the LLM (Game of 24 with ``compose_answer=True``: the answer line of a state that
reached 24, written from its validated steps); such expansions are ``compose`` events.

Completion lengths: each batched call is sent with the largest ``max_new_tokens`` that the search
task says its prompts need (``SearchTask.max_new_tokens(stage, problem, state)``; Game of 24: 512
for proposals, 192 for values, 100 for the answer line, 128 for the judge), unless the strategy's
``max_new_tokens`` (generation) / ``value_max_new_tokens`` (value, vote) are set.

The trace has a ``node`` event per state (``parent`` = parent node, ``data``: state, depth, value,
selected, final, answer) and ``propose``/``sample``/``compose``/``value``/``vote`` events for every
completion or static expansion (``parent`` = the node they are about); ``Trace.render()`` draws
the tree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from chainlab.chains.base import Outcome, Run, Strategy, check_positive
from chainlab.chains.result import Candidate
from chainlab.tasks.search import Expansion, SearchTask, ValueReading

__all__ = ["TotSearch", "tot_search", "DEFAULT_MAX_NEW_TOKENS"]

#: completion length when neither the strategy nor the search task sets one
DEFAULT_MAX_NEW_TOKENS = 256


@dataclass(eq=False)
class _Node:
    problem: int
    state: Any
    depth: int
    event: int
    parent: _Node | None = None
    value: float | None = None
    final: bool = False
    answer: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class TotSearch(Strategy):
    """Tree-of-Thoughts BFS/DFS over a :class:`~chainlab.tasks.search.SearchTask`.

    Attributes:
        method: ``bfs`` or ``dfs``.
        method_generate: ``propose`` or ``sample``.
        method_evaluate: ``value`` or ``vote``.
        method_select: ``greedy`` or ``sample`` (BFS).
        n_generate_sample: completions per state in ``sample`` generation.
        n_evaluate_sample: value/vote completions per prompt.
        n_select_sample: beam width ``b`` (BFS).
        steps: tree depth (default: the search task's ``steps``).
        value_threshold: DFS prunes children valued below it (summed value).
        max_visits: DFS expansion budget per problem.
        n_solutions: DFS stops after this many accepted final states.
        search_task: the protocol (default: ``task.search_task(**search_options)``).
        search_options: keyword arguments of ``task.search_task`` (Game of 24:
            ``{"compose_answer": True}`` writes the answer from the validated steps, see
            :class:`~chainlab.tasks.game24.Game24SearchTask`); not combinable with
            ``search_task``.
        propose_temperature / sample_temperature / value_temperature: decoding temperatures.
        max_new_tokens: completion length of propose/sample prompts (default None: what the
            search task says its prompts need, else 256).
        value_max_new_tokens: completion length of value/vote prompts (default None: what the
            search task says, else ``max_new_tokens``, else 256).
    """

    method: Literal["bfs", "dfs"] = "bfs"
    method_generate: Literal["propose", "sample"] = "propose"
    method_evaluate: Literal["value", "vote"] = "value"
    method_select: Literal["greedy", "sample"] = "greedy"
    n_generate_sample: int = 1
    n_evaluate_sample: int = 3
    n_select_sample: int = 5
    steps: int | None = None
    value_threshold: float = 1.0
    max_visits: int = 100
    n_solutions: int = 1
    search_task: Any = None
    search_options: dict[str, Any] | None = None
    propose_temperature: float = 0.0
    sample_temperature: float = 0.7
    value_temperature: float = 0.7
    max_new_tokens: int | None = None
    value_max_new_tokens: int | None = None

    # ------------------------------------------------------------------ setup
    def validate_params(self) -> None:
        super().validate_params()
        check_positive(
            b=self.n_select_sample,
            steps=self.steps,
            n_generate_sample=self.n_generate_sample,
            n_evaluate_sample=self.n_evaluate_sample,
            max_visits=self.max_visits,
            n_solutions=self.n_solutions,
        )
        choices = {
            "method": (self.method, ("bfs", "dfs")),
            "method_generate": (self.method_generate, ("propose", "sample")),
            "method_evaluate": (self.method_evaluate, ("value", "vote")),
            "method_select": (self.method_select, ("greedy", "sample")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
        if self.method == "dfs" and self.method_evaluate == "vote":
            raise ValueError(
                "DFS needs method_evaluate='value' (votes are not comparable to a threshold)."
            )
        check_positive(steps=self._search_task().steps if self.steps is None else self.steps)

    def _search_task(self) -> SearchTask:
        if self.search_task is not None:
            if self.search_options:
                raise ValueError(
                    "Give search_options or a search_task, not both (search_options are the "
                    "arguments of task.search_task())."
                )
            return self.search_task
        options = dict(self.search_options or {})
        try:
            return self.task.search_task(**options)
        except TypeError as exc:
            if not options:
                raise
            raise ValueError(
                f"Invalid search_options {options} for task {getattr(self.task, 'name', '?')!r}: "
                f"{exc}"
            ) from None

    # ------------------------------------------------------------------ run
    def _run(self, run: Run) -> list[Outcome]:
        st = self._search_task()
        steps = self.steps if self.steps is not None else st.steps
        ctx = _Search(self, st, run)
        roots = [ctx.new_node(i, st.root(p), 0, None) for i, p in enumerate(run.problems)]
        if self.method == "bfs":
            finals = ctx.bfs(roots, steps)
            return [ctx.outcome(i, nodes, accepted=None) for i, nodes in enumerate(finals)]
        out = []
        for root in roots:
            solutions = ctx.dfs(root, steps)
            out.append(ctx.outcome(root.problem, solutions, accepted=bool(solutions)))
        return out


class _Search:
    """The state of one search run (one per ``invoke``/``batch``; never shared)."""

    def __init__(self, cfg: TotSearch, st: SearchTask, run: Run) -> None:
        self.cfg = cfg
        self.st = st
        self.run = run
        self.value_cache: dict[str, tuple[float, list[ValueReading], int]] = {}
        self.rng = random.Random(cfg.seed)
        self.all_finals: list[list[_Node]] = [[] for _ in run.problems]
        self.visits = [0 for _ in run.problems]

    # nodes ---------------------------------------------------------------------------
    def new_node(self, i: int, state: Any, depth: int, parent: _Node | None, **data: Any) -> _Node:
        problem = self.run.problems[i]
        final = self.st.is_final(problem, state)
        answer = self.st.answer(problem, state) if final else None
        ev = self.run.traces[i].add(
            "node",
            parent=parent.event if parent else None,
            state=self.st.describe(state),
            depth=depth,
            value=None,
            selected=depth == 0,
            final=final,
            answer=answer,
            **data,
        )
        node = _Node(i, state, depth, ev.id, parent, final=final, answer=answer)
        if final:
            self.all_finals[i].append(node)
        return node

    def _set(self, node: _Node, **data: Any) -> None:
        self.run.traces[node.problem][node.event].data.update(data)

    # generation ----------------------------------------------------------------------
    def expand(self, nodes: list[_Node], level: int) -> list[list[_Node]]:
        """Children of every node, from ONE LLM call (identical prompts sent once)."""
        cfg, st, run = self.cfg, self.st, self.run
        sample = cfg.method_generate == "sample"
        prompts: dict[str, list[_Node]] = {}
        children: dict[int, list[_Node]] = {id(n): [] for n in nodes}
        for node in nodes:
            problem = run.problems[node.problem]
            static = self._static_expansion(problem, node)
            if static is not None:  # expanded without the LLM
                self._add_static_children(node, static, level, children[id(node)])
                continue
            try:
                prompt = (st.sample_prompt if sample else st.propose_prompt)(problem, node.state)
            except Exception as exc:  # a task bug must not lose the run
                prompt = None
                self._set(node, error=f"prompt failed: {type(exc).__name__}: {exc}")
            if prompt is None:
                self._set(node, dead_end=True)
                continue
            prompts.setdefault(prompt, []).append(node)
        if not prompts:
            return [children[id(n)] for n in nodes]
        plist = list(prompts)
        stage = "sample" if sample else "propose"
        max_tokens = cfg.max_new_tokens
        if max_tokens is None:
            max_tokens = self._needed_tokens(stage, prompts.values()) or DEFAULT_MAX_NEW_TOKENS
        if sample:
            params = cfg.params(cfg.n_generate_sample, cfg.sample_temperature, max_tokens)
        else:
            params = cfg.params(1, cfg.propose_temperature, max_tokens)
        texts, call = run.complete(cfg.llm, plist, params, f"{stage}[level {level}]")
        for prompt, outs in zip(plist, texts, strict=True):
            for k, node in enumerate(prompts[prompt]):
                problem = run.problems[node.problem]
                seen: set[Any] = set()
                for s, text in enumerate(outs):
                    exp = self._parse(
                        st.parse_sample if sample else st.parse_proposals, problem, node, text
                    )
                    ev = run.traces[node.problem].add(
                        stage,
                        prompt,
                        text,
                        parent=node.event,
                        call=call,
                        level=level,
                        sample=s,
                        cached=k > 0,
                        errors=exp.errors,
                        error="no valid thought parsed" if not exp.children else None,
                    )
                    for child_state in exp.children:
                        key = st.state_key(child_state)
                        if key in seen:
                            continue
                        seen.add(key)
                        children[id(node)].append(
                            self.new_node(
                                node.problem, child_state, node.depth + 1, node, from_event=ev.id
                            )
                        )
        return [children[id(n)] for n in nodes]

    def _static_expansion(self, problem: dict[str, Any], node: _Node) -> Expansion | None:
        try:
            return self.st.static_expansion(problem, node.state)
        except Exception as exc:  # a task bug must not lose the run: a dead end, traced
            return Expansion(errors=[f"static expansion failed: {type(exc).__name__}: {exc}"])

    def _add_static_children(
        self, node: _Node, exp: Expansion, level: int, out: list[_Node]
    ) -> None:
        """Trace a static expansion as a ``compose`` event and add its (distinct) children."""
        st = self.st
        kids: list[Any] = []
        seen: set[Any] = set()
        for child_state in exp.children:
            key = st.state_key(child_state)
            if key not in seen:
                seen.add(key)
                kids.append(child_state)
        ev = self.run.traces[node.problem].add(
            "compose",
            parent=node.event,
            level=level,
            states=[st.describe(c) for c in kids],
            errors=exp.errors,
            error=None if kids else "no state composed",
        )
        for child_state in kids:
            out.append(
                self.new_node(node.problem, child_state, node.depth + 1, node, from_event=ev.id)
            )

    def _needed_tokens(self, stage: str, groups: Any) -> int | None:
        """The largest completion length the search task wants for the prompts of ``groups``
        (lists of nodes sharing a prompt), None when it states none."""
        best: int | None = None
        for group in groups:
            node = group[0]
            try:
                n = self.st.max_new_tokens(stage, self.run.problems[node.problem], node.state)
            except Exception:
                n = None
            if n is not None and (best is None or n > best):
                best = int(n)
        return best

    def _value_tokens(self, stage: str, groups: Any) -> int:
        cfg = self.cfg
        if cfg.value_max_new_tokens is not None:
            return cfg.value_max_new_tokens
        needed = self._needed_tokens(stage, groups)
        if needed is not None:
            return needed
        return cfg.max_new_tokens if cfg.max_new_tokens is not None else DEFAULT_MAX_NEW_TOKENS

    def _parse(self, fn: Any, problem: dict[str, Any], node: _Node, text: str) -> Expansion:
        try:
            return fn(problem, node.state, text)
        except Exception as exc:
            return Expansion(errors=[f"parser failed: {type(exc).__name__}: {exc}"])

    # evaluation ----------------------------------------------------------------------
    def evaluate(self, nodes: list[_Node], level: int) -> None:
        """Set ``node.value`` of every node: ONE LLM call for all uncached value prompts."""
        if self.cfg.method_evaluate == "vote":
            self._vote(nodes, level)
            return
        cfg, st, run = self.cfg, self.st, self.run
        pending: dict[str, list[_Node]] = {}
        for node in nodes:
            problem = run.problems[node.problem]
            try:
                prompt = st.value_prompt(problem, node.state)
            except Exception as exc:
                node.value = 0.0
                self._set(
                    node, value=0.0, error=f"value prompt failed: {type(exc).__name__}: {exc}"
                )
                continue
            if prompt is None:
                node.value = float(st.static_value(problem, node.state, cfg.n_evaluate_sample))
                self._set(node, value=node.value, value_source="static")
            elif prompt in self.value_cache:
                node.value, _, first_event = self.value_cache[prompt]
                self._set(node, value=node.value, value_source="cache", value_event=first_event)
            else:
                pending.setdefault(prompt, []).append(node)
        if not pending:
            return
        plist = list(pending)
        max_tokens = self._value_tokens("value", pending.values())
        params = cfg.params(cfg.n_evaluate_sample, cfg.value_temperature, max_tokens)
        texts, call = run.complete(cfg.llm, plist, params, f"value[level {level}]")
        for prompt, outs in zip(plist, texts, strict=True):
            first = pending[prompt][0]
            problem = run.problems[first.problem]
            readings, events = [], []
            for s, text in enumerate(outs):
                try:
                    r = st.parse_value(problem, first.state, text)
                except Exception as exc:
                    r = ValueReading(None, f"parser failed: {type(exc).__name__}: {exc}")
                readings.append(r)
                ev = run.traces[first.problem].add(
                    "value",
                    prompt,
                    text,
                    parent=first.event,
                    call=call,
                    level=level,
                    sample=s,
                    label=r.label,
                    reading=r.value,
                    error=None if r.value is not None else "unparsable value output (counted 0)",
                )
                events.append(ev.id)
            value = float(sum(r.value for r in readings if r.value is not None))
            self.value_cache[prompt] = (value, readings, events[0])
            for k, node in enumerate(pending[prompt]):
                node.value = value
                self._set(
                    node,
                    value=value,
                    value_source="llm" if k == 0 else "cache",
                    value_event=events[0],
                    labels=[r.label for r in readings],
                )

    def _vote(self, nodes: list[_Node], level: int) -> None:
        cfg, st, run = self.cfg, self.st, self.run
        groups: dict[int, list[_Node]] = {}
        for node in nodes:
            node.value = 0.0
            groups.setdefault(node.problem, []).append(node)
        order = list(groups)
        prompts = [st.vote_prompt(run.problems[i], [n.state for n in groups[i]]) for i in order]
        max_tokens = self._value_tokens("vote", [groups[i] for i in order])
        params = cfg.params(cfg.n_evaluate_sample, cfg.value_temperature, max_tokens)
        texts, call = run.complete(cfg.llm, prompts, params, f"vote[level {level}]")
        for i, prompt, outs in zip(order, prompts, texts, strict=True):
            cands = groups[i]
            for s, text in enumerate(outs):
                try:
                    choice = st.parse_vote(run.problems[i], [n.state for n in cands], text)
                except Exception:
                    choice = None
                ok = choice is not None and 0 <= choice < len(cands)
                run.traces[i].add(
                    "vote",
                    prompt,
                    text,
                    call=call,
                    level=level,
                    sample=s,
                    choice=cands[choice].event if ok else None,
                    error=None if ok else "unparsable vote",
                )
                if ok:
                    cands[choice].value += 1.0
            for n in cands:
                self._set(n, value=n.value, value_source="vote")

    # selection -----------------------------------------------------------------------
    def select(self, nodes: list[_Node], b: int) -> list[_Node]:
        """The beam: ``b`` best (greedy, ties to the earlier) or ``b`` sampled ∝ value."""
        if not nodes:
            return []
        values = [n.value or 0.0 for n in nodes]
        if self.cfg.method_select == "sample":
            total = sum(values)
            weights = values if total > 0 else [1.0] * len(nodes)
            picked = self.rng.choices(range(len(nodes)), weights=weights, k=b)
            picked = sorted(picked, key=lambda j: (-values[j], j))
        else:
            picked = sorted(range(len(nodes)), key=lambda j: (-values[j], j))[:b]
        return [nodes[j] for j in picked]

    # BFS -----------------------------------------------------------------------------
    def bfs(self, roots: list[_Node], steps: int) -> list[list[_Node]]:
        """Beam search over all problems together; returns each problem's final beam."""
        cfg = self.cfg
        frontiers: list[list[_Node]] = [[r] for r in roots]
        for level in range(1, steps + 1):
            to_expand = [n for f in frontiers for n in f if not n.final]
            kids = self.expand(to_expand, level)
            new: list[list[_Node]] = [
                [n for n in f if n.final] for f in frontiers
            ]  # finals carry over
            seen: list[dict[Any, _Node]] = [{} for _ in frontiers]
            fresh: list[_Node] = []
            for children in kids:
                for child in children:
                    key = self.st.state_key(child.state)
                    first = seen[child.problem].get(key)
                    if first is not None:  # the same state reached twice: keep the first
                        self._set(child, duplicate_of=first.event)
                        continue
                    seen[child.problem][key] = child
                    new[child.problem].append(child)
                    fresh.append(child)
            self.evaluate(fresh, level)
            for i, nodes in enumerate(new):
                had_states = bool(frontiers[i])
                frontiers[i] = self.select(nodes, cfg.n_select_sample)
                for n in frontiers[i]:
                    self._set(n, selected=True)
                if had_states and not frontiers[i]:
                    self.run.traces[i].add("error", level=level, error="no states left to expand")
            if not any(frontiers):
                break
        return frontiers

    # DFS -----------------------------------------------------------------------------
    def dfs(self, root: _Node, steps: int) -> list[_Node]:
        """Depth-first search with pruning and backtracking for one problem."""
        solutions: list[_Node] = []
        self._dfs(root, steps, solutions)
        return solutions

    def _dfs(self, node: _Node, steps: int, solutions: list[_Node]) -> None:
        cfg, i = self.cfg, node.problem
        trace = self.run.traces[i]
        if node.final:
            if node.value is None or node.value >= cfg.value_threshold:
                solutions.append(node)
                self._set(node, accepted=True)
            return
        if node.depth >= steps:
            return
        if self.visits[i] >= cfg.max_visits:
            trace.add("budget", parent=node.event, max_visits=cfg.max_visits)
            return
        self.visits[i] += 1
        children = self.expand([node], node.depth + 1)[0]
        self.evaluate(children, node.depth + 1)
        for child in sorted(children, key=lambda c: -(c.value or 0.0)):
            if len(solutions) >= cfg.n_solutions:
                return
            if (child.value or 0.0) < cfg.value_threshold:
                self._set(child, pruned=True)
                trace.add(
                    "prune", parent=child.event, value=child.value, threshold=cfg.value_threshold
                )
                continue
            self._set(child, selected=True)
            self._dfs(child, steps, solutions)
        if len(solutions) < cfg.n_solutions and node.parent is not None:
            trace.add("backtrack", parent=node.event, depth=node.depth)

    # results -------------------------------------------------------------------------
    def outcome(self, i: int, nodes: list[_Node], accepted: bool | None) -> Outcome:
        problem = self.run.problems[i]
        pool = list(nodes)
        if accepted is False:  # DFS found nothing acceptable: fall back to the best final seen
            pool = sorted(self.all_finals[i], key=lambda n: -(n.value or 0.0))
        ranked = sorted(pool, key=lambda n: -(n.value or 0.0))
        cands = []
        for n in ranked:
            cands.append(
                Candidate(
                    n.answer,
                    self.cfg.task.normalize(n.answer) if n.answer is not None else None,
                    self.st.describe(n.state),
                    score=n.value,
                    event=n.event,
                    data={
                        "final": n.final,
                        "depth": n.depth,
                        "correct": self.st.score(problem, n.answer),
                    },
                )
            )
        best = next((c for c in cands if c.answer is not None), None)
        self.run.traces[i].add(
            "answer",
            parent=best.event if best else None,
            answer=best.answer if best else None,
            accepted=accepted,
            error=None if best else "no final state with an answer",
        )
        return Outcome(
            best.answer if best else None,
            cands,
            best.score if best else None,
            {
                "finals": [c.to_dict() for c in cands],
                "accepted": accepted,
                "visits": self.visits[i],
            },
        )


def tot_search(
    llm: Any,
    task: Any = "game24",
    method: Literal["bfs", "dfs"] = "bfs",
    b: int | None = None,
    **kwargs: Any,
) -> TotSearch:
    """Tree-of-Thoughts search strategy; ``b`` is the beam width (``n_select_sample``).

    ``search_options`` go to ``task.search_task()``. On the Game of 24:

    * ``tot_search(llm, "game24", b=5)`` — the ToT paper's BFS: the model writes the final
      ``Answer:`` line (from the CoT prompt) and the judge values it (the harness's ``tot-paper``);
    * ``tot_search(llm, "game24", b=5, search_options={"compose_answer": True})`` — a state that
      reached 24 with validated steps gets its answer written from those steps, without an LLM
      call (the harness's ``tot``, the default of ``chainlab compare``).

    Other keyword arguments are :class:`TotSearch` fields (``n_evaluate_sample``, ``steps``...).
    """
    if b is not None:
        check_positive(b=b)
        kwargs["n_select_sample"] = b
    return TotSearch(llm=llm, task=task, method=method, **kwargs)
