"""Write ``MODEL_CARD.md`` of ``chainlab-tiny`` from the JSON files the measuring commands wrote.

    chainlab model-card --dir chainlab/models/weights/chainlab-tiny \\
        --skills runs/skills.json --gptq-skills runs/skills-gptq.json \\
        --arith-base runs/arith-base.json --arith-adapter runs/arith-adapter.json \\
        --compare runs/demo/summary.json --arith-compare runs/arith-compare/summary.json

Every number in the card comes from those files (``chainlab eval-tiny --out``, ``chainlab compare``'s
``summary.json``) and from ``training_summary.json`` beside the weights, so rerunning the
documented commands regenerates the card. Missing inputs become "not measured" lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FLOORS = {"propose_valid": 0.95, "value_accuracy": 0.92, "judge_accuracy": 0.98}
TRAIN_BUDGET_MINUTES = 90  # issue #3: `make tiny-model` from nothing on 2 CPU cores


def _load(path: str | None) -> dict | None:
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist (write it with the command in the card).")
    return json.loads(p.read_text())


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def skills_table(full: dict | None, gptq: dict | None) -> str:
    """Markdown table of the Game of 24 skills: full model, GPTQ variant, floor."""
    if full is None:
        return "_Not measured._\n"
    rows = [
        ("propose: valid proposal lines", "propose_valid", "≥ 95%"),
        ("propose, greedy (as `tot` proposes)", "propose_valid_greedy", "—"),
        ("value: accuracy, balanced 3-number states", "value_accuracy", "≥ 92%"),
        ("judge: accuracy, correct vs corrupted answers", "judge_accuracy", "≥ 98%"),
        ("io: greedy success", "io_success", "—"),
        ("cot: greedy success", "cot_success", "—"),
        ("answer: written from a right solution's steps (as `tot-paper` does)", "answer_success", "—"),
    ]
    out = ["| skill | chainlab-tiny | chainlab-tiny-gptq | floor |", "|---|---|---|---|"]
    for label, key, floor in rows:
        g = _pct(gptq.get(key)) if gptq else "not measured"
        out.append(f"| {label} | {_pct(full.get(key))} | {g} | {floor} |")
    out.append("")
    out.append(
        f"Measured on {full.get('puzzles')} test puzzles ({full.get('propose_lines')} proposal lines), "
        f"{full.get('value_states')} value states and {full.get('judge_items')} judge items "
        f"in {full.get('seconds')} s."
    )
    return "\n".join(out) + "\n"


def arith_table(base: dict | None, adapter: dict | None) -> str:
    """Markdown table of the arithmetic skills, base model against base + adapter."""
    if base is None and adapter is None:
        return "_Not measured._\n"
    out = ["| skill (200 held-out problems) | chainlab-tiny | + chainlab-tiny-arith | floor |",
           "|---|---|---|---|"]  # fmt: skip
    for label, key, floor in (
        ("step by step", "steps_accuracy", "adapter ≥ 50%, base ≤ 10%"),
        ("direct answer", "direct_accuracy", "—"),
        ("verify a worked solution", "verify_accuracy", "—"),
    ):
        b = _pct(base.get(key)) if base else "not measured"
        a = _pct(adapter.get(key)) if adapter else "not measured"
        out.append(f"| {label} | {b} | {a} | {floor} |")
    return "\n".join(out) + "\n"


def compare_table(summary: dict | None) -> str:
    """Markdown table of a ``chainlab compare`` summary.json: accuracy and cost per strategy."""
    if summary is None:
        return "_Not measured._\n"
    out = ["| strategy | accuracy | 95% CI | any-of-b | LLM calls | prompt tok | completion tok | s |",
           "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for s in summary["strategies"]:
        ci = f"{_pct(s['ci_low'])} – {_pct(s['ci_high'])}"
        acc = f"{_pct(s['accuracy'])} ({s['correct']}/{s['n_scored']})"
        out.append(
            f"| {s['name']} | {acc} | {ci} | {_pct(s.get('any_accuracy'))} | {s['mean_calls']:.1f} "
            f"| {s['mean_prompt_tokens']:.0f} | {s['mean_completion_tokens']:.0f} "
            f"| {s['mean_seconds']:.2f} |"
        )
    out.append("")
    out.append("Costs are means per problem.")
    return "\n".join(out) + "\n"


def strategy_names(summary: dict | None) -> str:
    """The compared strategies of a summary.json, comma-separated (empty when not measured)."""
    return ",".join(s["name"] for s in (summary or {}).get("strategies", []))


def _recipe(tc: dict) -> dict:
    """The recipe options of a run's config (``train_tiny.DEFAULTS`` keys), defaults filled in.

    Runs logged before an option existed lack its key and used its default."""
    from chainlab.models.train_tiny import DEFAULTS

    keys = (
        "wide_share", "late_share", "late_wide_share", "mark_weight", "mix", "value_format",
        "judge_other_share", "judge_small_share", "judge_low_share", "propose_format", "judge_format", "result_weight",
        "judge_correct_share", "cot_format",
    )  # fmt: skip
    return {k: tc.get(k, DEFAULTS[k]) for k in keys}


def recipe_flags(tc: dict) -> str:
    """The non-default recipe options of a ``train-tiny`` run, as command-line flags (with the
    architecture's for a run from scratch; a continued run keeps its init model's)."""
    from chainlab.models.train_tiny import DEFAULTS, format_mix

    r = _recipe(tc)
    flags = []
    if "init_from" not in tc:
        for key, flag in (
            ("layers", "--layers"), ("hidden_size", "--hidden-size"),
            ("intermediate_size", "--intermediate-size"), ("heads", "--heads"),
        ):
            if tc.get(key, DEFAULTS[key]) != DEFAULTS[key]:
                flags.append(f" {flag} {tc[key]}")
        if tc.get("fraction_tokens"):
            flags.append(" --fraction-tokens")
    if tc.get("widen"):
        flags.append(" --widen {}:{}".format(*tc["widen"]))
    for key, value in r.items():
        shown = value != DEFAULTS[key]
        if key == "late_wide_share":
            shown = shown and bool(r["late_share"])
        if shown:
            text = format_mix(value) if key == "mix" else value if isinstance(value, str) else f"{value:g}"
            flags.append(f" --{key.replace('_', '-')} {text}")
    return "".join(flags)


def _value_text(tc: dict) -> tuple[str, str]:
    """(share of wide value states, text on the mark weight / curriculum) of one run's config."""
    r = _recipe(tc)
    wide, late, late_wide, mark = r["wide_share"], r["late_share"], r["late_wide_share"], r["mark_weight"]
    if wide >= 1:
        value_states = "All 3-number states are"
    else:
        value_states = f"{1 - wide:.0%} of the 3-number states are sub-states of puzzles, {wide:.0%} are"
    if late:
        mark_text = (
            f" A curriculum trains the last {late:.0%} of the examples as a phase of their own (a"
            f" second seed), in which {late_wide:.0%} of the 3-number states are wide"
            + (f" and the loss weighs the `!` mark {mark:g}×" if mark != 1.0 else "")
            + "."
        )
    elif mark != 1.0:
        mark_text = (
            f" The loss weighs the `!` mark {mark:g}× (a match is rare in the data, and at weight 1"
            " the model under-marks)."
        )
    else:
        mark_text = ""
    if r["result_weight"] != 1.0:
        clause = _result_weight_text(r["result_weight"])
        mark_text += f" {clause[0].upper()}{clause[1:]}."
    return value_states, mark_text


def _result_weight_text(weight: float) -> str:
    """The clause on ``--result-weight``."""
    return (
        f"the loss weighs the result tokens (the number after each ` = `, the word after `Same "
        f"numbers:`, `Makes 24:` and `Verdict:`) {weight:g}×"
    )


def _joined(clauses: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _cpu(run: dict) -> str:
    """``"AVX512 "`` when the run logged its CPU's vector capability (step times depend on it)."""
    return f"{run['cpu_capability']} " if run.get("cpu_capability") else ""


def _stage_cpu(run: dict) -> str:
    """`` on AVX2`` when a run logged its CPU's vector capability, else `` (CPU not recorded)``."""
    return f" on {run['cpu_capability']}" if run.get("cpu_capability") else " (CPU not recorded)"


def _total_cpu(stages: list[dict]) -> str:
    """``"AVX2 CPU threads"`` when every stage logged the same CPU capability; otherwise the total
    adds times of different (or unrecorded) CPUs, and the text says which stage ran on which."""
    caps = [st.get("cpu_capability") for st in stages]
    if len(set(caps)) == 1:
        return f"{caps[0]} CPU threads" if caps[0] else "CPU threads"
    where = ", ".join(f"{_ordinal(i + 1)}: {cap or 'not recorded'}" for i, cap in enumerate(caps))
    return f"CPU threads, adding up stages timed on different CPUs ({where})"


def _compile_flag(run: dict) -> str:
    """`` --compile`` / `` --bf16`` when a run's transformer went through torch.compile / ran its
    forward pass in bfloat16; `` --bf16 auto`` when the CPU chose (float32 on one without
    bfloat16 instructions); `` --bf16-from-step N`` when its first N steps ran in float32."""
    auto = run.get("bf16_flag") == "auto"
    bf16 = " --bf16 auto" if auto else " --bf16" if run.get("bf16") else ""
    if bf16 and run.get("bf16_from_step"):
        bf16 += f" --bf16-from-step {run['bf16_from_step']}"
    return (" --compile" if run.get("compiled") else "") + bf16


def _optimizer_flag(tc: dict) -> str:
    """`` --optimizer NAME`` when a run's config names another optimizer than ``train-tiny``'s default."""
    from chainlab.models.train_tiny import DEFAULTS

    name = tc.get("optimizer", "adamw")  # runs logged before the option existed used AdamW
    return f" --optimizer {name}" if name != DEFAULTS["optimizer"] else ""


def _optimizer_text(tc: dict) -> str:
    """What a run's optimizer was, in words."""
    if tc.get("optimizer", "adamw") == "muon":
        return "Muon on the blocks' matrices (at AdamW's update size) and AdamW on the rest"
    return "AdamW"


def _seed_flag(tc: dict) -> str:
    """`` --seed N`` when a run from scratch used another seed than ``train-tiny``'s default."""
    from chainlab.models.train_tiny import DEFAULTS

    return f" --seed {tc['seed']}" if tc.get("seed", DEFAULTS["seed"]) != DEFAULTS["seed"] else ""


def training_stages(train: dict) -> list[dict]:
    """The runs of a training summary, first stage first (each continued run nests the run it
    continued under ``base``)."""
    stages = [train]
    while "base" in stages[0]:
        stages.insert(0, stages[0]["base"])
    return stages


def stage_out(index: int, count: int) -> str:
    """The ``--out`` directory of stage ``index`` (0-based) of ``count`` in ``make tiny-model``:
    ``runs/chainlab-tiny`` for the last, ``runs/chainlab-tiny-base`` for the first of several,
    ``runs/chainlab-tiny-stage<k>`` between them."""
    if index == count - 1:
        return "runs/chainlab-tiny"
    return "runs/chainlab-tiny-base" if index == 0 else f"runs/chainlab-tiny-stage{index + 1}"


_COUNT_WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _ordinal(k: int) -> str:
    return _ORDINALS.get(k, f"{k}th")


def _widen_clauses(tc: dict) -> list[str]:
    """The clause on ``--widen`` of a continued stage's config (none when it keeps its size)."""
    if not tc.get("widen"):
        return []
    hidden, inter = tc["widen"]
    return [
        f"the model is first widened to hidden size {hidden} and MLP width {inter} (more heads of the "
        "same size; the new weights start where they do not change the output)"
    ]


def _continued_changes(rc: dict, rp: dict) -> list[str]:
    """Clauses naming what a continued stage's recipe ``rc`` changes from the previous ``rp``."""
    out = []
    if rc["value_format"] != rp["value_format"]:
        out.append(f"the value skill learns the `{rc['value_format']}` check (below)")
    if rc["mark_weight"] != rp["mark_weight"]:
        out.append(f"the loss weighs the value check's `!` mark {rc['mark_weight']:g}×")
    if rc["result_weight"] != rp["result_weight"]:
        out.append(_result_weight_text(rc["result_weight"]))
    if rc["judge_other_share"] != rp["judge_other_share"]:
        out.append(
            f"{rc['judge_other_share']:.0%} of the judge's wrong answers are correct answers to "
            "another puzzle"
        )
    if rc["judge_correct_share"] != rp["judge_correct_share"]:
        out.append(_judge_correct_clause(rc["judge_correct_share"]))
    if rc["propose_format"] != rp["propose_format"]:
        out.append(f"the propose skill learns the `{rc['propose_format']}` layout (below)")
    if rc["judge_format"] != rp["judge_format"]:
        out.append(f"the judge skill learns the `{rc['judge_format']}` layout (below)")
    if rc["cot_format"] != rp["cot_format"]:
        out.append(f"the CoT skill learns the `{rc['cot_format']}` layout (below)")
    if rc["judge_small_share"] != rp["judge_small_share"]:
        share = rc["judge_small_share"]
        out.append(f"{share:.0%} of the judge's puzzles have 3 or 5 numbers over 1..13")
    if rc["judge_low_share"] != rp["judge_low_share"]:
        share = rc["judge_low_share"]
        out.append(f"{share:.0%} of the judge's other puzzles are unsolvable over 1..13, answered wrong")
    if rc["mix"] != rp["mix"]:
        total_w = sum(rc["mix"].values())
        shares = ", ".join(f"{k} {v / total_w:.0%}" for k, v in rc["mix"].items())
        out.append(f"the skills are mixed {shares}")
    return out


def reproducibility_text(stages: list[dict]) -> str:
    """Whether the stages' commands repeat them bit for bit: their logs say whether ``train-tiny``
    trained with deterministic kernels (``"deterministic"``, logged since research-notes session 46)."""
    old = [i for i, st in enumerate(stages) if not st.get("deterministic")]
    if not old:
        return ("Every stage trained with deterministic kernels: its command repeats it bit for bit on a CPU of "
                "the same kind with the same `--threads`; another CPU or thread count trains another draw of the recipe.")
    if len(stages) == 1:
        which = "This stage"
    elif len(old) == len(stages):
        which = "These stages"
    else:
        which = f"The {_joined([_ordinal(i + 1) for i in old])} stage{'s' if len(old) > 1 else ''}"
    commands = "command" if len(old) == 1 else "commands"
    return (f"{which} trained before `train-tiny`'s kernels were deterministic: a rerun of the {commands} is another "
            "draw of the recipe, which agrees with these numbers within the recipe's spread, not digit for digit. "
            "Since then a stage repeats bit for bit on a CPU of the same kind with the same `--threads`.")


def training_text(train: dict, made_by_make: bool = True) -> tuple[str, str, str]:
    """(Training paragraph, value-state text, mark text) of a training summary of one or more
    stages.

    A summary with ``base`` (the previous run's summary, nested once per earlier stage) is a model
    trained from scratch and then continued with ``train-tiny --init-from``. ``made_by_make``:
    ``make tiny-model`` runs these stages (otherwise it runs the rebuild recipe of the card's
    "Rebuilding from scratch" section, and the paragraph says so).
    """
    stages = training_stages(train)
    first = stages[0]
    tc = first["config"]
    value_states, mark_text = _value_text(tc)
    n = len(stages)
    cmd = (
        f"`chainlab train-tiny --out {stage_out(0, n)} "
        f"--examples {first['examples']}{_seed_flag(tc)}{recipe_flags(tc)}{_optimizer_flag(tc)} --threads 2"
        f"{_compile_flag(first)}` (seed {tc['seed']})"
    )
    stats = (
        f"{first['examples']:,} conversations, {first['tokens']:,} tokens, {first['steps']:,} steps of "
        f"about {tc['batch_tokens']} tokens, {_optimizer_text(tc)} at {tc['lr']} with warm-up and cosine decay, loss on "
        f"the assistant answers only. {first['train_seconds'] / 60:.1f} minutes on "
        f"{first['torch_threads']} {_cpu(first)}CPU threads"
        + ("" if first.get("cpu_capability") else " (CPU not recorded)")
    )
    if n == 1:
        text = (
            f"{cmd}:\n{stats}; final answer-token loss {train['final_loss_avg100']:.4f} "
            f"(mean of the last 100 steps).\n\n{reproducibility_text(stages)}"
        )
        return text, value_states, mark_text
    total = sum(st["train_seconds"] for st in stages) / 60
    data = sum(st["data_seconds"] for st in stages) / 60
    items = [f"1. {cmd}: {stats}."]
    for i in range(1, n):
        st, c = stages[i], stages[i]["config"]
        muon = f" of {_optimizer_text(c)}" if c.get("optimizer") == "muon" else ""
        rc, rp = _recipe(c), _recipe(stages[i - 1]["config"])
        cmdk = (
            f"`chainlab train-tiny --out {stage_out(i, n)} --init-from {stage_out(i - 1, n)} "
            f"--examples {st['examples']} --lr {c['lr']:g} --seed {c['seed']}{recipe_flags(c)}{_optimizer_flag(c)} --threads 2"
            f"{_compile_flag(st)}`"
        )
        if i == 1:
            changes = [f"{rc['wide_share']:.0%} of the 3-number value states are wide"]
            changes += _widen_clauses(c) + _continued_changes(rc, rp)
            how = " in which " + _joined(changes)
        else:
            changes = _widen_clauses(c) + _continued_changes(rc, rp)
            how = f" in which {_joined(changes)}" if changes else f" with the {_ordinal(i)} stage's recipe"
        items.append(
            f"{i + 1}. {cmdk} continues it on {st['examples']:,} fresh conversations ({st['tokens']:,} "
            f"tokens, {st['steps']:,} steps{muon} at {c['lr']:g} with warm-up and cosine decay){how}: "
            f"{st['train_seconds'] / 60:.1f} minutes{_stage_cpu(st)}."
        )
    items[-1] += (
        f" Final answer-token loss {train['final_loss_avg100']:.4f} (mean of the last 100 steps)."
    )
    later = ""
    if n > 2:
        later = (
            f" The {_joined([_ordinal(k) for k in range(3, n + 1)])} "
            f"{'continue' if n > 3 else 'continues'} that practice on fresh conversations."
        )
    runs = (
        f"`make tiny-model` runs {'both' if n == 2 else 'them all'}"
        if made_by_make
        else "the recipe of these weights; `make tiny-model` runs the shorter one under *Rebuilding from scratch*"
    )
    text = (
        f"{_COUNT_WORDS.get(n, str(n))} stages ({runs}): {total + data:.1f} minutes from nothing on 2 "
        f"{_total_cpu(stages)}, {data:.1f} of them generating the data and {total:.1f} training — "
        f"{'within' if total + data <= TRAIN_BUDGET_MINUTES else 'over'} the "
        f"{TRAIN_BUDGET_MINUTES}-minute budget.\n\n"
        + "\n".join(items)
        + "\n\nThe first stage learns every skill and the puzzle sub-states the search visits; the second "
        "practises the value check on states it cannot remember (a match is rare in the data, and at "
        "weight 1 the model under-marks)."
        + later
        + f"\n\n{reproducibility_text(stages)}"
    )
    return text, value_states, mark_text


REBUILD_FILE = "rebuild_summary.json"  # beside the weights when `make tiny-model` is not their recipe

_REBUILD_SKILLS = (
    ("propose: valid proposal lines", "propose_valid", "propose_valid"),
    ("value: accuracy, balanced 3-number states", "value_accuracy", "value_accuracy"),
    ("judge: accuracy, correct vs corrupted answers", "judge_accuracy", "judge_accuracy"),
    ("answer: written from a right solution's steps", "answer_success", None),
)


def rebuild_section(rebuild: dict | None, shipped: dict | None) -> str:
    """The card's "Rebuilding from scratch" section: what ``make tiny-model`` ran, how long it took
    and the skills it reached next to the shipped weights' (``rebuild``: the contents of
    ``rebuild_summary.json``); empty when the shipped weights are ``make tiny-model``'s own."""
    if rebuild is None:
        return ""
    text, _, _ = training_text(rebuild["training"])
    got = rebuild.get("skills") or {}
    out = [
        "## Rebuilding from scratch",
        "The shipped weights' recipe (above) takes longer than the budget; `make tiny-model` runs this one, "
        "and the skills it reached are measured below with the same `chainlab eval-tiny` as the shipped weights'.",
        "",
        text,
        "",
        "| skill | shipped chainlab-tiny | `make tiny-model` rebuild | floor |",
        "|---|---|---|---|",
    ]
    for label, key, floor_key in _REBUILD_SKILLS:
        floor = f"≥ {FLOORS[floor_key]:.0%}" if floor_key else "—"
        ship = _pct(shipped.get(key)) if shipped else "not measured"
        out.append(f"| {label} | {ship} | {_pct(got.get(key))} | {floor} |")
    below = [label.split(":")[0] for label, key, fk in _REBUILD_SKILLS if fk and (got.get(key) or 0) < FLOORS[fk]]
    out += [
        "",
        "The rebuild holds every floor." if not below else
        f"The rebuild is under the floor on {_joined(below)}: a run of this recipe is not shipped unless it holds "
        "every floor, and the shipped weights are the run above.",
        "",
    ]
    return "\n".join(out) + "\n"


def render(model_dir: Path, inputs: dict[str, dict | None], rebuild: dict | None = None) -> str:
    """The card's Markdown (``rebuild``: a rebuild's summary; default: ``rebuild_summary.json``
    beside the weights, if there is one)."""
    train = json.loads((model_dir / "training_summary.json").read_text())
    cfg = json.loads((model_dir / "config.json").read_text())
    rebuild_path = model_dir / REBUILD_FILE
    if rebuild is None and rebuild_path.exists():
        rebuild = json.loads(rebuild_path.read_text())
    training, value_states, mark_text = training_text(train, made_by_make=rebuild is None)
    return TEMPLATE.format(
        rebuild=rebuild_section(rebuild, inputs["skills"]),
        training=training,
        value_states=value_states,
        mark_text=mark_text,
        value_check=VALUE_CHECKS[_recipe(train["config"])["value_format"]],
        propose_target=PROPOSE_TARGETS[_recipe(train["config"])["propose_format"]],
        judge_target=JUDGE_TARGETS[_recipe(train["config"])["judge_format"]],
        cot_target=COT_TARGETS[_recipe(train["config"])["cot_format"]],
        judge_small=_judge_small_text(train["config"]) + _judge_correct_text(train["config"]),
        params=train["parameters"],
        params_m=train["parameters"] / 1e6,
        layers=cfg["num_hidden_layers"],
        hidden=cfg["hidden_size"],
        heads=cfg["num_attention_heads"],
        inter=cfg["intermediate_size"],
        vocab=cfg["vocab_size"],
        ctx=cfg["max_position_embeddings"],
        skills=skills_table(inputs["skills"], inputs["gptq_skills"]),
        arith=arith_table(inputs["arith_base"], inputs["arith_adapter"]),
        compare=compare_table(inputs["compare"]),
        compare_strategies=strategy_names(inputs["compare"]) or "io,cot,cot-sc,tot,tot-paper",
        arith_compare=compare_table(inputs["arith_compare"]),
    )


JUDGE_TARGETS = {
    "plain": (
        "the expression worked out operation by operation, `Numbers:` it uses next to the puzzle's\n"
        "  `Input:`, `Same numbers: yes|no`, `Makes 24: yes|no`, then `Verdict: correct|incorrect`"
    ),
    "numbers-first": (
        "the puzzle's `Input:`, the `Numbers:` the expression uses (both copied from the prompt's lines"
        " just above),\n  `Same numbers: yes|no`, then the expression worked out operation by operation,"
        " `Makes 24: yes|no`\n  and `Verdict: correct|incorrect`"
    ),
    "split-fractions": (
        "the expression worked out operation by operation, an operation on a fraction over whole"
        " numbers\n  first (`12 / 3/4 = 12 * 4 / 3 = 48 / 3 = 16`), `Numbers:` it uses next to the"
        " puzzle's `Input:`,\n  `Same numbers: yes|no`, `Makes 24: yes|no`, then"
        " `Verdict: correct|incorrect`"
    ),
    "need-last": (
        "the expression worked out operation by operation but the last, which is checked against the"
        " value it needs\n  to make 24 (`4 * 6: need 24 / 6 = 4, have 4: yes`), `Numbers:` it uses next"
        " to the puzzle's `Input:`,\n  `Same numbers: yes|no`, `Makes 24: yes|no`, then"
        " `Verdict: correct|incorrect`"
    ),
    "cross-off": (
        "the puzzle's `Input:`, the expression's numbers taken from it one by one in the order they"
        " are written\n  (`Take 5: 4 6 10` … `Take 10: none`, or `Take 5: missing`), `Same numbers:"
        " yes|no`, then the expression\n  worked out operation by operation, `Makes 24: yes|no` and"
        " `Verdict: correct|incorrect`"
    ),
}
JUDGE_TARGETS["cross-off-split"] = JUDGE_TARGETS["cross-off"].replace(
    "operation by operation,",
    "operation by operation, an operation on a fraction over whole numbers first\n"
    "  (`12 / 3/4 = 12 * 4 / 3 = 48 / 3 = 16`),",
)
JUDGE_TARGETS["steps"] = (
    "the expression replayed from the puzzle's numbers as restated steps, operation by operation"
    " (`4 5 6 10 | 10 - 4 = 6\n  (left: 5 6 6)` … `(left: 24)`, or `4 5 6 10 | 10 - 3: 3 missing`),"
    " then `Verdict: correct|incorrect`"
)
JUDGE_TARGETS["ordered"] = (
    "the expression's numbers copied in the order they are written (`Written: 5 5 6 10`), the same"
    " sorted\n  (`Numbers:`), the puzzle's `Input:`, `Same numbers: yes|no`, then the expression"
    " worked out operation by\n  operation, `Makes 24: yes|no` and `Verdict: correct|incorrect`"
)
JUDGE_TARGETS["compared"] = JUDGE_TARGETS["ordered"].replace(
    "`Input:`, `Same",
    "`Input:`, the two sorted lists compared place by place\n  (`Compare: 5 4 no, 5 5 yes, …`), `Same",
)
JUDGE_TARGETS["insert-sorted"] = JUDGE_TARGETS["compared"].replace(
    "the same sorted\n  (`Numbers:`)",
    "the sort written out\n  (`Sort: 5 | 5 5 | 5 5 6 | 5 5 6 10`), its last list (`Numbers:`)",
)
JUDGE_TARGETS["rewrite"] = JUDGE_TARGETS["compared"].replace(
    "the expression worked out operation by\n  operation,",
    "the expression worked out operation by\n  operation, each line followed by the expression with that"
    " operation's result in its place\n  (`2 + 4 = 6: (9 - 6) * 8`, `9 - 6 = 3: 3 * 8`, `3 * 8 = 24`),",
)
JUDGE_TARGETS["written-cross-off"] = (
    "the expression's numbers copied in the order they are written (`Written: 5 5 6 10`), then"
    " `cross-off`'s lines:\n  " + JUDGE_TARGETS["cross-off"]
)

PROPOSE_TARGETS = {
    "plain": "every move with a whole, non-zero result, one `a op b = c (left: …)` line each, in a fixed order",
    "grouped": (
        "every move with a whole, non-zero result, one `a op b = c (left: …)` line each, in a fixed order,\n"
        "  under a header per pair that names the pair and the numbers it leaves (`4 10 | 5 6`), so each"
        " line's `left`\n  copies two numbers from just above; parsers skip the headers"
        " (`chainlab.prompts.game24.is_pair_header`)"
    ),
    "restated": (
        "every move with a whole, non-zero result, one `a op b = c (left: …)` line each, in a fixed order,\n"
        "  each line starting with the numbers it works on (`4 5 6 10 | 4 + 10 = 14 (left: 5 6 14)`), so"
        " its `left`\n  comes from the same line, not from the input far above; parsers read past the prefix"
    ),
}


COT_TARGETS = {
    "plain": "a solution path as three step lines, then `Answer: … = 24`",
    "expand": (
        "a solution path as three step lines, then the expression written back from the last step,\n"
        "  one step's result replaced by its operation per form (`24 = 2 * 12 = 2 * (4 + 8) = 2 * (4 + (1 + 7))`),"
        "\n  then `Answer: … = 24`"
    ),
    "build": (
        "a solution path as three step lines, then the expression built forward, one line per step\n"
        "  (`8 = 1 + 7`, `12 = 4 + 8 = 4 + (1 + 7)`, `24 = 2 * 12 = 2 * (4 + (1 + 7))`), then `Answer: … = 24`"
    ),
}


def _judge_small_text(tc: dict) -> str:
    """The model card's sentence on judge puzzles of 3 and 5 numbers, when the recipe has them."""
    share = _recipe(tc)["judge_small_share"]
    if not share:
        return ""
    return (
        f" {share:.0%} of the judge's puzzles (in the second stage) have 3 or 5 numbers over 1..13,"
        " so that right answers made of small numbers only are seen: every 4-number start over"
        " 1..13 is a test puzzle;"
    )


def _judge_correct_clause(share: float) -> str:
    """The clause on ``--judge-correct-share``."""
    return f"{share:.0%} of the judge's answers are right, the rest wrong"


def _judge_correct_text(tc: dict) -> str:
    """The model card's sentence on the share of right judge answers, when it is not half."""
    share = _recipe(tc)["judge_correct_share"]
    if share == 0.5:
        return ""
    return f" {_judge_correct_clause(share)} (elsewhere half and half);"


VALUE_CHECKS = {
    "need": (
        "a worked check (the `need` format) — every expression over three numbers combines one number"
        " `x` with a result of the other two, so each line is\n  `x: need <r with x op r = 24> | <pair>"
        " -> <pair results> | yes|no`, a pair result that is among the needed values marked `!` right"
        " after it\n  (`240!`), stopping at the first `yes`"
    ),
    "pairs": (
        "a worked check (the `pairs` format) — every expression over three numbers first combines a"
        " pair, then the pair's result\n  with the third number, so the check writes each pair with its"
        " whole results and the third number (`4 9 -> 13 5 36 | 11`),\n  then each result combined with"
        " the third number (`13 11 -> 24! 2 143`), marking a 24 with `!` and stopping there; every\n"
        "  step is the pair arithmetic of `propose`, and the only comparison is with the constant 24"
    ),
}

TEMPLATE = """# chainlab-tiny — model card

A small Llama (`LlamaForCausalLM`) that chainlab trains itself, so that prompting strategies can be
run and compared offline on a CPU. It speaks the Llama-2 chat format (`<s>[INST] <<SYS>>…`) and
knows the five Game of 24 skills of the Tree-of-Thoughts paper (our wording of the prompts:
`chainlab.prompts.game24`). Shipped variants: `chainlab-tiny` (fp16), `chainlab-tiny-gptq` (4-bit
GPTQ, gptqmodel) and the LoRA adapter `chainlab-tiny-arith`.

## Architecture
{params:,} parameters ({params_m:.2f}M): {layers} layers, hidden size {hidden}, {heads} heads,
MLP {inter}, vocabulary {vocab} (byte-level BPE trained on the training data, `<s>`/`</s>`, a Llama-2
chat template), context {ctx} tokens, tied embeddings, stored in fp16 safetensors.

## Training
{training}

Each conversation has a system message (one of 12 wordings, or none), 0–2 earlier solved turns of
the same skill (few-shot) and the final turn. Targets (`chainlab/models/tiny_data.py`):

* `propose`: {propose_target};
* `value`: {value_check} — then `sure` or `impossible`. {value_states} *wide* random states
  (numbers up to 200, solvable ones built backwards from a needed value), so that doing the check
  pays more than remembering states.{mark_text}
* `judge`: {judge_target}; wrong
  answers are near misses (one operator or number changed, another puzzle's answer) or, for 35%,
  random steps over the right numbers;{judge_small}
* `cot`: {cot_target}; `io`: the answer line only.

## Held-out protocol
No 4-number multiset of the ToT paper's `24.csv` (all 1,362 rows) is the 4-number start of any
training example: starts hold a number in 14..24, or are one of the 458 *unsolvable* multisets over
1..13 (which the file, listing solvable puzzles only, never holds). 3-number value states whose
hash bucket is 0 are never trained on and are the value test set. `tests/test_tiny_data.py`
checks a regenerated sample against the file.

## Skills
`chainlab eval-tiny --model chainlab-tiny --out skills.json` (and `--model chainlab-tiny-gptq`):
proposals sampled at temperature 0.7 on the ToT test puzzles (rows 900–999 of `24.csv`); value on a
balanced set of held-out 3-number states reached by one whole-number step from a 1..13 puzzle;
judge on correct vs corrupted answers of the test puzzles.

{skills}
{rebuild}## Strategies on the Game of 24 (ToT test split)
`chainlab compare --model chainlab-tiny --task game24 --strategies {compare_strategies} --out …`

{compare}
## The arithmetic adapter `chainlab-tiny-arith`
`chainlab arith-data --out arith.jsonl --n 24000` (32,501 records from 24,000 problems; each
verify problem gives a pair of records, its true solution and a corrupted one; the verify check
compares two numbers by subtracting them, `4 * 9 = 36 | 27 | 36 - 27 = 9 | no`) then
`chainlab finetune --model chainlab-tiny --data arith.jsonl --out chainlab-tiny-arith --rank 16 --alpha 32 --epochs 1`
(2,032 steps, about 26 minutes on 2 threads);
measured with `chainlab eval-tiny --skills arith [--adapter chainlab-tiny-arith]` on held-out problems
(the test split of `chainlab.tasks.arith`, never trained on).

{arith}
Strategies with the adapter (`chainlab compare --task arith`):

{arith_compare}
## Limits
A 5M-parameter model that knows one puzzle family and a synthetic arithmetic format: it is a
laboratory instrument for comparing prompting strategies offline, not a general assistant.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``chainlab model-card``."""
    p.add_argument("--dir", required=True, help="the model directory (holds training_summary.json)")
    for name in (
        "skills",
        "gptq-skills",
        "arith-base",
        "arith-adapter",
        "compare",
        "arith-compare",
    ):
        p.add_argument(f"--{name}", help=f"JSON file with the {name.replace('-', ' ')} numbers")
    p.add_argument(
        "--rebuild", metavar="RUN",
        help="a finished `make tiny-model` run (its last stage's directory) that is not the shipped "
        f"weights: its stages' logs and --rebuild-skills are stored as {REBUILD_FILE} beside the "
        "weights, and the card gets a 'Rebuilding from scratch' section (later calls reuse the file)",
    )
    p.add_argument("--rebuild-skills", metavar="FILE", help="`chainlab eval-tiny --out` of the --rebuild run")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab model-card``."""
    d = Path(args.dir)
    try:
        inputs = {
            k: _load(getattr(args, k))
            for k in (
                "skills",
                "gptq_skills",
                "arith_base",
                "arith_adapter",
                "compare",
                "arith_compare",
            )
        }
        if bool(args.rebuild) != bool(args.rebuild_skills):
            raise ValueError("--rebuild and --rebuild-skills go together: the run and its `eval-tiny --out`")
        if args.rebuild:
            from chainlab.models.install_tiny import training_summary

            rebuild = {"training": training_summary(Path(args.rebuild)), "skills": _load(args.rebuild_skills)}
            text = render(d, inputs, rebuild)  # everything checked before anything is written
            (d / REBUILD_FILE).write_text(json.dumps(rebuild, indent=2) + "\n")
        else:
            text = render(d, inputs)
    except (FileNotFoundError, KeyError, ValueError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (d / "MODEL_CARD.md").write_text(text)
    print(f"wrote {d / 'MODEL_CARD.md'}")
    return 0
