"""Run traces: every prompt and completion of a strategy run, in order, with stage names and ids.

Events form a forest through ``parent`` ids. LLM events carry ``prompt`` and ``completion``;
search runs add ``node`` events (one per tree state: ``data["state"]``, ``data["depth"]``,
``data["value"]``, ``data["selected"]``) whose ``parent`` is the parent node, so
:meth:`Trace.tree` / :meth:`Trace.render` can draw the search tree. ``call`` is the index of the
batched LLM call (within the run) that produced an event, showing which prompts were batched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Trace", "TraceEvent"]


@dataclass
class TraceEvent:
    """One step of a run: an LLM prompt/completion, a search node, a vote, a parse error..."""

    id: int
    stage: str
    prompt: str | None = None
    completion: str | None = None
    parent: int | None = None
    call: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (values in ``data`` are converted with ``str`` when needed)."""
        d = asdict(self)
        d["data"] = {k: _jsonable(v) for k, v in self.data.items()}
        return d


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class Trace:
    """The ordered events of one problem's run. Ids are 0, 1, 2, ... in creation order."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def add(
        self,
        stage: str,
        prompt: str | None = None,
        completion: str | None = None,
        parent: int | None = None,
        call: int | None = None,
        **data: Any,
    ) -> TraceEvent:
        """Append an event and return it."""
        event = TraceEvent(len(self.events), stage, prompt, completion, parent, call, dict(data))
        self.events.append(event)
        return event

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, event_id: int) -> TraceEvent:
        return self.events[event_id]

    def stages(self) -> list[str]:
        """Stage name of every event, in order."""
        return [e.stage for e in self.events]

    def by_stage(self, stage: str) -> list[TraceEvent]:
        """Events of one stage, in order."""
        return [e for e in self.events if e.stage == stage]

    def llm_events(self) -> list[TraceEvent]:
        """Events holding a prompt (one per LLM completion), in order."""
        return [e for e in self.events if e.prompt is not None]

    def children(self, event_id: int | None) -> list[TraceEvent]:
        """Events whose parent is ``event_id`` (None: the roots)."""
        return [e for e in self.events if e.parent == event_id]

    def tree(self, stage: str = "node") -> list[dict[str, Any]]:
        """Nested ``{"id", "state", "value", "selected", "children": [...]}`` of the search nodes."""
        nodes = self.by_stage(stage)

        def build(e: TraceEvent) -> dict[str, Any]:
            kids = [n for n in nodes if n.parent == e.id]
            return {"id": e.id, **e.data, "children": [build(k) for k in kids]}

        ids = {n.id for n in nodes}
        return [build(n) for n in nodes if n.parent not in ids]

    def render(self, stage: str = "node") -> str:
        """The search tree as indented text: ``[value] state`` per node, ``*`` = selected."""
        lines: list[str] = []

        def walk(node: dict[str, Any], depth: int) -> None:
            mark = "*" if node.get("selected") else " "
            value = node.get("value")
            val = "    -" if value is None else f"{value:7.3f}"
            state = str(node.get("state", "")).replace("\n", " | ")
            lines.append(f"{'  ' * depth}{mark}[{val}] {state}")
            for kid in node["children"]:
                walk(kid, depth + 1)

        for root in self.tree(stage):
            walk(root, 0)
        return "\n".join(lines)

    def to_list(self) -> list[dict[str, Any]]:
        """All events as JSON-friendly dicts."""
        return [e.to_dict() for e in self.events]

    def __repr__(self) -> str:
        return f"Trace({len(self.events)} events: {', '.join(sorted(set(self.stages())))})"
