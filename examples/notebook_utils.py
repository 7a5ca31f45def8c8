"""Small helpers shared by the example notebooks: where outputs go, and the Tree-of-Thoughts tree plot.

Not part of the ``chainlab`` package: the notebooks import it from their own folder
(``examples/``), so copy it along with a notebook you take elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["output_dir", "chosen_path", "tree_layout", "draw_tot_tree"]


def output_dir(name: str = "") -> Path:
    """``$CHAINLAB_EXAMPLES_OUT/<name>`` (default ``outputs/<name>`` beside the notebooks), created.

    The test suite points ``CHAINLAB_EXAMPLES_OUT`` at a temporary directory.
    """
    root = Path(os.environ.get("CHAINLAB_EXAMPLES_OUT") or "outputs")
    path = root / name if name else root
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- Tree-of-Thoughts trees


def _nodes(trace: Any) -> dict[int, Any]:
    return {e.id: e for e in trace.by_stage("node")}


def chosen_path(trace: Any) -> list[int]:
    """Node event ids from the root to the node the search answered with.

    ``tot_search`` ends its trace with an ``answer`` event whose ``parent`` is the final node it
    picked. When the search found no final state, the path ends at the best-valued node of the
    deepest level reached instead (the search's most promising partial solution).
    """
    nodes = _nodes(trace)
    if not nodes:
        return []
    answers = trace.by_stage("answer")
    end = answers[-1].parent if answers else None
    if end not in nodes:
        end = max(
            nodes.values(),
            key=lambda e: (e.data.get("depth", 0), e.data.get("value") or 0.0, -e.id),
        ).id
    path = []
    while end is not None and end in nodes:
        path.append(end)
        end = nodes[end].parent
    return path[::-1]


def tree_layout(trace: Any) -> dict[int, tuple[float, float]]:
    """``{node id: (x, y)}``: x = depth, leaves one unit apart in y, parents centred on children."""
    nodes = _nodes(trace)
    children: dict[int | None, list[int]] = {}
    for e in nodes.values():
        parent = e.parent if e.parent in nodes else None
        children.setdefault(parent, []).append(e.id)
    pos: dict[int, tuple[float, float]] = {}
    next_leaf = [0.0]

    def place(nid: int) -> float:
        kids = children.get(nid, [])
        if kids:
            ys = [place(k) for k in kids]
            y = (min(ys) + max(ys)) / 2
        else:
            y = next_leaf[0]
            next_leaf[0] += 1.0
        pos[nid] = (float(nodes[nid].data.get("depth", 0)), y)
        return y

    for root in children.get(None, []):
        place(root)
    return pos


def _label(data: dict[str, Any], width: int) -> str:
    """The last line of a node's state (its new step, or its answer), then its value."""
    state = str(data.get("state", "")).strip()
    last = state.splitlines()[-1] if state else "(empty)"
    if len(last) > width:
        last = last[: width - 1] + "…"
    value = data.get("value")
    if data.get("duplicate_of") is not None:
        return f"{last}  (duplicate)"
    return last if value is None else f"{last}  [{value:.3g}]"


def draw_tot_tree(
    trace: Any,
    title: str | None = None,
    ax: Any = None,
    label_width: int = 34,
    cmap: str = "viridis",
):
    """Draw a ``tot_search`` trace as a tree, root on the left, one column per level.

    Every ``node`` event is a state: its label is its newest step line (or ``Answer: ...``) and its
    value in brackets. Node colour = value (log scale: the Game of 24 values run from 0.001 to
    60), grey when the node was never valued. Nodes kept in the beam (``selected``) have a black
    ring; final states are squares. The chosen path (:func:`chosen_path`) is drawn in red.

    Returns:
        The matplotlib ``Figure`` (shown inline by Jupyter when it is the cell's last value).
    """
    import matplotlib.pyplot as plt
    from matplotlib import colors

    nodes = _nodes(trace)
    pos = tree_layout(trace)
    path = chosen_path(trace)
    on_path = set(path)
    depth = max((p[0] for p in pos.values()), default=0.0)
    leaves = max((p[1] for p in pos.values()), default=0.0) + 1
    if ax is None:
        fig, ax = plt.subplots(figsize=(2.0 + 2.8 * (depth + 1), max(2.6, 0.24 * leaves + 1.2)))
    else:
        fig = ax.figure

    values = [e.data.get("value") for e in nodes.values() if e.data.get("value") is not None]
    positive = [v for v in values if v > 0]
    vmin = min(positive) if positive else 1e-3
    vmax = max(positive) if positive else 1.0
    if vmax <= vmin:
        vmax = vmin * 10
    norm = colors.LogNorm(vmin=vmin, vmax=vmax)
    colormap = plt.get_cmap(cmap)

    for nid, e in nodes.items():
        if e.parent in pos:
            (x0, y0), (x1, y1) = pos[e.parent], pos[nid]
            red = nid in on_path and e.parent in on_path
            ax.plot(
                [x0, x1],
                [y0, y1],
                color="tab:red" if red else "0.75",
                lw=2.6 if red else 0.8,
                zorder=2 if red else 1,
            )
    for nid, e in nodes.items():
        x, y = pos[nid]
        v = e.data.get("value")
        face = "0.8" if v is None or v <= 0 else colormap(norm(max(v, vmin)))
        ax.scatter(
            [x],
            [y],
            s=110 if nid in on_path else 60,
            marker="s" if e.data.get("final") else "o",
            c=[face],
            edgecolors="tab:red" if nid in on_path else ("black" if e.data.get("selected") else "none"),
            linewidths=2.0 if nid in on_path else 1.0,
            zorder=3,
        )
        ax.annotate(
            _label(e.data, label_width),
            (x, y),
            xytext=(7, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="tab:red" if nid in on_path else "black",
            fontweight="bold" if nid in on_path else "normal",
            bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.85},
            zorder=4,
        )

    sm = plt.cm.ScalarMappable(norm=norm, cmap=colormap)
    sm.set_array([])
    fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01, label="value (log scale)")
    ax.set_xlim(-0.3, depth + 1.0)
    ax.set_ylim(leaves - 0.4, -0.6)  # first child on top
    ax.set_xticks([d for d in range(int(depth) + 1)])
    ax.set_xticklabels(["start"] + [f"level {d}" for d in range(1, int(depth) + 1)])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    n_sel = sum(1 for e in nodes.values() if e.data.get("selected"))
    default = f"Tree-of-Thoughts search: {len(nodes)} states, {n_sel} kept in the beam"
    ax.set_title(title or default, fontsize=10)
    fig.tight_layout()
    return fig

