"""Train ``chainlab-tiny``: a small Llama that speaks Llama-2 chat and knows the Game of 24 skills.

One command, fixed seed, reproducible: ``chainlab train-tiny --out runs/chainlab-tiny``.
Steps: generate the training conversations (:mod:`chainlab.models.tiny_data`), train a byte-level
BPE tokenizer, train a ``LlamaForCausalLM`` with loss on the assistant answers, save the model
(fp16 safetensors), the tokenizer (with a Llama-2 chat template), ``training_log.json`` and
``loss_curve.png``. An interrupted run resumes from its last checkpoint (``--resume`` is the
default when ``OUT/checkpoint`` exists).

``--init-from MODEL`` (a directory or a packaged name such as ``chainlab-tiny``) continues training
an existing model on freshly generated data: its weights, architecture and tokenizer are kept, so a
change of the training mix can be tried in a fraction of a full run (a shipped model is still
trained from scratch, so that the documented command reproduces it).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import random
import re
import shutil
import sys
import time
from pathlib import Path

from chainlab.models.tiny_data import (
    COT_FORMATS,
    DEFAULT_MIX,
    JUDGE_FORMATS,
    PROPOSE_FORMATS,
    SKILLS,
    VALUE_FORMATS,
    WIDE_SHARE,
    DataRecipe,
)
from chainlab.models.training_optimizer import OPTIMIZERS, build_optimizer

LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

DEFAULTS = dict(
    examples=100000,
    seed=0,
    vocab_size=2048,
    fraction_tokens=False,  # the tokenizer keeps a fraction such as 3/4 in one pre-token
    hidden_size=256,
    layers=6,
    heads=8,
    intermediate_size=768,
    max_positions=1024,
    lr=2e-3,
    min_lr_ratio=0.05,
    warmup=100,
    batch_tokens=4096,
    weight_decay=0.1,
    optimizer="adamw",  # training_optimizer.OPTIMIZERS: AdamW everywhere, or Muon on the block matrices
    checkpoint_every=200,
    wide_share=WIDE_SHARE,  # share of 3-number value states drawn wide
    mark_weight=1.0,  # loss weight of the value check's match mark (tiny_data.MATCH)
    result_weight=1.0,  # loss weight of result tokens (numbers after ' = ', yes/no, verdicts)
    late_share=0.0,  # curriculum: share of the examples trained last, in their own phase
    late_wide_share=1.0,  # wide share of the late phase's value states
    mix=dict(DEFAULT_MIX),  # skill weights of the training conversations
    value_format="need",  # the worked value check (tiny_data.value_answer)
    judge_other_share=0.0,  # share of the judge's wrong answers that answer another puzzle
    judge_small_share=0.0,  # share of judge turns on 3- and 5-number puzzles over 1..13
    judge_low_share=0.0,  # share of judge turns on unsolvable 4-number puzzles over 1..13
    judge_correct_share=0.5,  # share of judge turns whose answer is right
    propose_format="plain",  # the propose skill's answer layout (tiny_data.propose_answer)
    judge_format="plain",  # the judge skill's answer layout (tiny_data.judge_answer)
    cot_format="plain",  # the CoT skill's answer layout (tiny_data.cot_answer)
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """CLI options of ``chainlab train-tiny``."""
    p.add_argument("--out", default="runs/chainlab-tiny", help="output directory (default: %(default)s)")
    p.add_argument("--examples", type=int, default=DEFAULTS["examples"], help="training conversations")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--hidden-size", type=int, default=DEFAULTS["hidden_size"])
    p.add_argument("--layers", type=int, default=DEFAULTS["layers"])
    p.add_argument(
        "--intermediate-size", type=int, default=DEFAULTS["intermediate_size"],
        help="MLP width of each layer (default: %(default)s)",
    )
    p.add_argument(
        "--heads", type=int, default=DEFAULTS["heads"],
        help="attention heads; --hidden-size must be a multiple (default: %(default)s)",
    )
    p.add_argument(
        "--fraction-tokens", action="store_true",
        help="train the tokenizer with fractions (3/4) kept whole, so frequent ones become single "
        "tokens (a run from scratch only; a continued run keeps its init model's tokenizer)",
    )
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--batch-tokens", type=int, default=DEFAULTS["batch_tokens"])
    p.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"],
        help="'adamw': AdamW on every weight; 'muon': Muon (torch.optim.Muon, its update scaled to "
        "AdamW's RMS, so the same --lr and schedule) on the transformer blocks' matrices, AdamW on "
        "the embedding and norms (default: %(default)s)",
    )
    p.add_argument(
        "--wide-share", type=float, default=DEFAULTS["wide_share"],
        help="share of 3-number value states drawn wide, numbers up to 200 (default: %(default)s)",
    )
    p.add_argument(
        "--mark-weight", type=float, default=DEFAULTS["mark_weight"],
        help="loss weight of the value check's '!' match mark, which is rare in the data and "
        "under-predicted at weight 1 (default: %(default)s)",
    )
    p.add_argument(
        "--result-weight", type=float, default=DEFAULTS["result_weight"],
        help="loss weight of the answers' result tokens: the number after each ' = ' and the word "
        "after 'Same numbers:', 'Makes 24:' and 'Verdict:', where a wrong token decides a wrong "
        "judgment (default: %(default)s)",
    )
    p.add_argument(
        "--late-share", type=float, default=DEFAULTS["late_share"],
        help="curriculum: train this share of --examples last, as a phase of its own drawn with "
        "--late-wide-share; --mark-weight then applies to that phase only (default: %(default)s, "
        "no curriculum)",
    )
    p.add_argument(
        "--late-wide-share", type=float, default=DEFAULTS["late_wide_share"],
        help="wide share of the value states in the late phase (default: %(default)s)",
    )
    p.add_argument(
        "--mix", default=format_mix(DEFAULTS["mix"]),
        help="skill weights of the training conversations (default: %(default)s); 'calc' adds "
        "a drill that works out the judge's operations, mostly on fractions; 'lists' a drill of the "
        "judge's list lines (sort, compare place by place, same or not) on lists that include "
        "numbers up to 13 only",
    )
    p.add_argument(
        "--value-format", choices=VALUE_FORMATS, default=DEFAULTS["value_format"],
        help="the value skill's worked check: 'need' matches pair results against the values each "
        "number needs, 'pairs' combines every pair and then each result with the third number "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--judge-other-share", type=float, default=DEFAULTS["judge_other_share"],
        help="share of the judge skill's wrong answers that are a correct answer to another puzzle "
        "(the rest are near misses and random steps; default: %(default)s, which leaves them at "
        "the near-miss mix's 13%%)",
    )
    p.add_argument(
        "--judge-small-share", type=float, default=DEFAULTS["judge_small_share"],
        help="share of judge turns on a solvable 3- or 5-number puzzle over 1..13, so that right "
        "answers made of small numbers only are seen (4-number ones are the held-out test "
        "puzzles; default: %(default)s)",
    )
    p.add_argument(
        "--judge-low-share", type=float, default=DEFAULTS["judge_low_share"],
        help="share of judge turns on an unsolvable 4-number puzzle over 1..13, answered wrong "
        "(its numbers in other steps, one of them changed, or another puzzle's answer), so that "
        "the judge's list lines see two equal lists of small numbers as the test's right answers "
        "give them (of the other judge turns; default: %(default)s)",
    )
    p.add_argument(
        "--judge-correct-share", type=float, default=DEFAULTS["judge_correct_share"],
        help="share of judge turns whose answer is right, the rest wrong; below 0.5 fewer worked "
        "answers end in 24 (default: %(default)s)",
    )
    p.add_argument(
        "--propose-format", choices=PROPOSE_FORMATS, default=DEFAULTS["propose_format"],
        help="the propose skill's answer: 'plain' step lines, 'grouped' under a header per pair "
        "that names the numbers it leaves, or 'restated', each line starting with the numbers it "
        "works on (default: %(default)s)",
    )
    p.add_argument(
        "--judge-format", choices=JUDGE_FORMATS, default=DEFAULTS["judge_format"],
        help="the judge skill's answer: 'plain' works the expression out first; 'numbers-first' "
        "starts with the Input and Numbers lines and their comparison; 'split-fractions' works an "
        "operation on a fraction over whole numbers; 'need-last' checks the last operation against "
        "the value it needs to make 24; 'cross-off' starts with the Input line and takes the "
        "expression's numbers from it one by one; 'cross-off-split' is 'cross-off' with the worked "
        "lines of 'split-fractions'; 'steps' replays the expression from the Input in the propose "
        "skill's restated step lines; 'ordered' copies the expression's numbers as written, sorts "
        "them and compares them with the Input before working the expression out; 'compared' adds "
        "a place-by-place Compare line; 'insert-sorted' also writes the sort out one number at a "
        "time; 'written-cross-off' is 'cross-off' after the Written line (default: %(default)s)",
    )
    p.add_argument(
        "--cot-format", choices=COT_FORMATS, default=DEFAULTS["cot_format"],
        help="the CoT skill's answer: 'plain' step lines and the Answer line; 'expand' writes the "
        "expression back from the last step, one step per form, before the Answer line; 'build' "
        "builds it forward, one line per step (default: %(default)s)",
    )
    p.add_argument("--data", help="a JSONL written by tiny_data.write_dataset (default: generate)")
    p.add_argument(
        "--init-from",
        help="start from this model (directory or packaged name) instead of random weights; "
        "its architecture and tokenizer are kept",
    )
    p.add_argument(
        "--widen", metavar="HIDDEN:INTERMEDIATE",
        help="with --init-from: first widen the model to this hidden size (more heads of the same "
        "size) and MLP width, computing the same function (new weights start where they cannot "
        "change the output; chainlab.models.widen), then train it, e.g. --widen 320:896",
    )
    p.add_argument(
        "--threads", type=int, default=0,
        help="torch threads (0: all cores); a run repeats bit for bit on one machine with the same "
        "--threads (torch's deterministic algorithms are on while training)",
    )
    p.add_argument(
        "--compile", action="store_true",
        help="compile the transformer with torch.compile (needs a C++ compiler; about 1.2x faster "
        "steps on CPU after a one-time compile of about a minute)",
    )
    p.add_argument(
        "--bf16", nargs="?", const="on", default="off", choices=("on", "off", "auto"),
        help="compute the forward pass in bfloat16 (torch.autocast; weights, gradients and AdamW "
        "stay float32): about 1.1-1.4x faster steps on CPUs with AVX512-BF16 or AMX; as good as "
        "float32 when continuing a trained model (--init-from) and in the second half of a first "
        "stage, but a first stage trained in bfloat16 from its start ended with a 6%% higher "
        "held-out loss; refused on CPUs without them (emulated, "
        "about 17x slower). '--bf16 auto': bfloat16 where the CPU has it, float32 elsewhere "
        "(default: off)",
    )
    p.add_argument(
        "--attention", choices=ATTENTIONS, default="auto",
        help="the attention kernel of the training steps (not saved with the model): 'sdpa' is "
        "torch's scaled_dot_product_attention, 'eager' plain matrix products and a softmax, which "
        "torch.compile fuses; 'auto' takes eager under --bf16 (sdpa's CPU attention took 40%% of a "
        "bfloat16 step, mostly its backward; eager made real stages 1.15-1.27x faster) and sdpa in "
        "float32, where it is the faster (default: %(default)s)",
    )
    p.add_argument(
        "--bf16-from-step", type=int, default=0, metavar="N",
        help="with --bf16: train the first N steps in float32 (with float32's attention) and "
        "bfloat16 from step N on. bfloat16's harm to a first stage from scratch is early: float32 "
        "for the first 1,800 of 3,837 steps ended at float32's held-out loss (0.0700 vs 0.0703; "
        "bfloat16 throughout 0.0745) in 54 instead of 65 minutes (default: 0)",
    )
    p.add_argument(
        "--bf16-anyway", action="store_true",
        help="run --bf16 even on a CPU without bfloat16 instructions (slow; for checking numerics)",
    )
    p.add_argument("--checkpoint-every", type=int, default=DEFAULTS["checkpoint_every"])
    p.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)  # tests: simulate a crash
    p.add_argument("--overwrite", action="store_true", help="replace a finished model in --out")
    p.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint and start over")


def format_mix(mix: dict[str, float]) -> str:
    """``{"io": 0.05, ...}`` -> ``"io=0.05,..."`` (the ``--mix`` syntax)."""
    return ",".join(f"{k}={v:g}" for k, v in mix.items())


def parse_mix(text: str) -> dict[str, float]:
    """A ``--mix`` value -> skill weights; unknown skills and an all-zero mix are errors."""
    from chainlab.models.options import parse_weights

    mix = parse_weights(text, "--mix", format_mix(DEFAULT_MIX))
    unknown = sorted(set(mix) - set(SKILLS))
    if unknown:
        raise ValueError(f"--mix: unknown skill(s) {', '.join(unknown)}; the skills are {', '.join(SKILLS)}")
    if not any(mix.values()):
        raise ValueError("--mix: every weight is 0; give at least one skill a weight above 0")
    return mix


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab train-tiny``."""
    out = Path(args.out)
    if (out / "model.safetensors").exists() and not args.overwrite:
        print(
            f"error: {out} already holds a trained model. Pass --overwrite to replace it, "
            f"or choose another --out.",
            file=sys.stderr,
        )
        return 2
    if args.data and not Path(args.data).exists():
        print(f"error: training data file {args.data} does not exist.", file=sys.stderr)
        return 2
    init_from = None
    if args.init_from:
        try:
            init_from = resolve_init(args.init_from)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    widen = None
    if args.widen:
        if init_from is None:
            print("error: --widen grows the --init-from model; give --init-from MODEL, or drop --widen "
                  "and set --hidden-size/--intermediate-size for a model trained from scratch.", file=sys.stderr)
            return 2
        from chainlab.models.widen import parse_widen

        try:
            config = json.loads((init_from / "config.json").read_text())
            head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
            widen = parse_widen(args.widen, head_dim)
            if widen[0] < config["hidden_size"] or widen[1] < config["intermediate_size"]:
                raise ValueError(
                    f"--widen {args.widen}: {args.init_from} is already "
                    f"{config['hidden_size']}:{config['intermediate_size']}; widening cannot shrink it"
                )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.fraction_tokens and init_from is not None:
        print(
            "error: --fraction-tokens builds a new tokenizer; a run with --init-from keeps its init "
            "model's. Drop one of them.",
            file=sys.stderr,
        )
        return 2
    cfg = dict(DEFAULTS)
    cfg.update(
        examples=args.examples,
        fraction_tokens=args.fraction_tokens,
        seed=args.seed,
        hidden_size=args.hidden_size,
        layers=args.layers,
        intermediate_size=args.intermediate_size,
        heads=args.heads,
        lr=args.lr,
        batch_tokens=args.batch_tokens,
        optimizer=args.optimizer,
        checkpoint_every=args.checkpoint_every,
        wide_share=args.wide_share,
        mark_weight=args.mark_weight,
        result_weight=args.result_weight,
        late_share=args.late_share,
        late_wide_share=args.late_wide_share,
        value_format=args.value_format,
        judge_other_share=args.judge_other_share,
        judge_small_share=args.judge_small_share,
        judge_low_share=args.judge_low_share,
        judge_correct_share=args.judge_correct_share,
        propose_format=args.propose_format,
        judge_format=args.judge_format,
        cot_format=args.cot_format,
    )
    if widen:
        cfg["widen"] = list(widen)
    for flag, value in (
        ("--wide-share", args.wide_share),
        ("--late-wide-share", args.late_wide_share),
        ("--judge-other-share", args.judge_other_share),
        ("--judge-small-share", args.judge_small_share),
        ("--judge-low-share", args.judge_low_share),
        ("--judge-correct-share", args.judge_correct_share),
    ):
        if not 0.0 <= value <= 1.0:
            print(f"error: {flag} must be within 0..1, got {value}.", file=sys.stderr)
            return 2
    if not 0.0 <= args.late_share < 1.0:
        print(f"error: --late-share must be within 0..1 (1 excluded), got {args.late_share}.", file=sys.stderr)
        return 2
    if args.late_share and args.data:
        print(
            "error: --late-share generates the data of both phases itself; drop --data, "
            "or drop --late-share to train on the given file.",
            file=sys.stderr,
        )
        return 2
    try:
        cfg["mix"] = parse_mix(args.mix)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # options that shape generated data
    for key in ("mix", "value_format", "judge_other_share", "judge_small_share", "judge_low_share",
                "judge_correct_share", "propose_format", "judge_format", "cot_format"):
        if args.data and cfg[key] != DEFAULTS[key]:
            flag = "--" + key.replace("_", "-")
            print(
                f"error: {flag} shapes generated data; drop --data, or drop {flag} to train on the "
                "given file.",
                file=sys.stderr,
            )
            return 2
    for flag, value in (("--mark-weight", args.mark_weight), ("--result-weight", args.result_weight)):
        if value <= 0:
            print(f"error: {flag} must be > 0, got {value}.", file=sys.stderr)
            return 2
    if args.intermediate_size < 1:
        print(f"error: --intermediate-size must be >= 1, got {args.intermediate_size}.", file=sys.stderr)
        return 2
    if args.heads < 1 or args.hidden_size % args.heads:
        print(
            f"error: --hidden-size {args.hidden_size} is not a multiple of --heads {args.heads}; "
            f"choose heads that divide it (e.g. {next(h for h in (8, 4, 2, 1) if args.hidden_size % h == 0)}).",
            file=sys.stderr,
        )
        return 2
    if args.bf16 == "on" and not args.bf16_anyway and not native_bf16():
        print(f"error: {slow_bf16_message()}", file=sys.stderr)
        return 2
    if args.bf16_from_step < 0 or (args.bf16_from_step and args.bf16 == "off"):
        print(
            f"error: --bf16-from-step {args.bf16_from_step}: give a step >= 0 together with "
            "--bf16 on or --bf16 auto (it says when bfloat16 starts).",
            file=sys.stderr,
        )
        return 2
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and native_bf16())
    try:
        train(
            out, cfg, data=args.data, threads=args.threads, resume=not args.no_resume,
            stop_after=args.stop_after, init_from=init_from, compiled=args.compile,
            bf16=bf16, bf16_auto=args.bf16 == "auto", attention=args.attention,
            bf16_from_step=args.bf16_from_step,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------- pieces


ATTENTIONS = ("auto", "sdpa", "eager")


def training_attention(choice: str, bf16: bool) -> str:
    """The attention implementation a training run uses: ``choice`` unless it is ``auto``, which
    means ``eager`` under bfloat16 autocast (torch's fused CPU attention is slow there, its backward
    above all) and ``sdpa`` in float32. Both compute the same function; only the speed differs."""
    if choice not in ATTENTIONS:
        raise ValueError(f"attention {choice!r}: choose one of {', '.join(ATTENTIONS)}")
    if choice != "auto":
        return choice
    return "eager" if bf16 else "sdpa"


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (AVX512-BF16 or AMX, as
    oneDNN reports it). Without them torch emulates bfloat16, and ``--bf16`` is a slowdown."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


def slow_bf16_message() -> str:
    """Why ``--bf16`` is refused on this CPU, and what to do instead."""
    import torch

    return (
        "--bf16: this CPU has no bfloat16 instructions (torch's CPU capability: "
        f"{torch.backends.cpu.get_cpu_capability()}; bfloat16 needs AVX512-BF16 or AMX), so "
        "torch emulates it: a chainlab-tiny step took 47 s instead of 2.7 s on such a CPU. Drop "
        "--bf16 (--compile still helps), use --bf16 auto (bfloat16 only where the CPU has it), "
        "or add --bf16-anyway to run it regardless."
    )


def resolve_init(name: str, option: str = "--init-from") -> Path:
    """Directory of the model that ``option`` names; a clear error if it is not a Llama."""
    from chainlab.models.registry import packaged_path

    path = packaged_path(name) or Path(name)
    config = path / "config.json"
    if not config.exists():
        raise FileNotFoundError(
            f"{option} {name}: {path} holds no config.json; give a model directory written by "
            f"train-tiny or a packaged name (chainlab-tiny)."
        )
    model_type = json.loads(config.read_text()).get("model_type")
    if model_type != "llama" or "quantization_config" in json.loads(config.read_text()):
        raise ValueError(
            f"{option} {name}: expected a full-precision Llama model, found "
            f"model_type={model_type!r}{' (quantized)' if model_type == 'llama' else ''}."
        )
    if not (path / "tokenizer.json").exists():
        raise FileNotFoundError(f"{option} {name}: {path} has no tokenizer.json.")
    return path


def load_records(path: Path) -> list[dict]:
    """Records of a dataset JSONL; a malformed line is an error naming the line."""
    recs = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                if not isinstance(rec.get("text"), str) or not isinstance(rec.get("spans"), list):
                    raise ValueError("needs 'text' (string) and 'spans' (list of [start, end])")
            except ValueError as exc:
                raise ValueError(f"{path}:{i}: malformed training record: {exc}") from exc
            recs.append(rec)
    if not recs:
        raise ValueError(f"{path} holds no training records.")
    return recs


FRACTION_PRETOKEN = r" ?\d+/\d+"  # kept whole by --fraction-tokens, ahead of GPT-2's pattern
GPT2_PRETOKENS = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def build_tokenizer(texts: list[str], vocab_size: int, fraction_tokens: bool = False):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ``<unk> <s> </s>`` and a Llama-2 template.

    ``fraction_tokens``: pre-tokenize with a fraction (`` 3/4``) as one piece, so that BPE can
    merge frequent fractions into single tokens (by default ``3/4`` is `` 3``, ``/``, ``4``).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    if fraction_tokens:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(f"{FRACTION_PRETOKEN}|{GPT2_PRETOKENS}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=DEFAULTS["max_positions"],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = LLAMA2_CHAT_TEMPLATE
    return fast


def tokenizer_corpus(records: list[dict], seed: int) -> list[str]:
    """Texts the tokenizer is trained on: training conversations plus arithmetic word problems."""
    from chainlab.models.tiny_data import SYSTEMS

    texts = [r["text"] for r in records[:12000]]
    try:
        from chainlab.tasks.arith import corpus_sample

        texts += corpus_sample(3000, seed)
    except ImportError:  # pragma: no cover - arith generator ships with chainlab
        pass
    texts += [s for s in SYSTEMS if s]
    return texts


RESULT_PATTERN = re.compile(r"(?<= = )[^\s=]+|(?<=Same numbers: )\w+|(?<=Makes 24: )\w+|(?<=Verdict: )\w+")


def result_spans(text: str, spans: list) -> list[tuple[int, int]]:
    """Character spans of the result tokens inside the answer ``spans`` of ``text``: the number
    after each `` = `` (``16``, ``24/7``) and the word after ``Same numbers:``, ``Makes 24:`` and
    ``Verdict:`` — the tokens on which a judgment turns (``--result-weight``)."""
    out = []
    for a, b in spans:
        out += [(a + m.start(), a + m.end()) for m in RESULT_PATTERN.finditer(text[a:b])]
    return out


def encode(records: list[dict], tok) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) per record; labels are -100 outside the assistant answers."""
    return [(ids, labels) for ids, labels, _ in encode_weighted(records, tok)]


def encode_weighted(
    records: list[dict], tok, result_weight: float = 1.0
) -> list[tuple[list[int], list[int], list[float] | None]]:
    """(input_ids, labels, weights) per record: labels are -100 outside the assistant answers;
    weights (None when ``result_weight`` is 1) give ``result_weight`` to the labelled tokens that
    overlap a result (:func:`result_spans`), 1 to the others."""
    out = []
    for rec, (ids, offsets) in zip(records, tokenize_all(tok, [r["text"] for r in records]), strict=True):
        labels = [-100] * len(ids)
        spans = rec["spans"]
        for k, (s, e) in enumerate(offsets):
            if any(a <= s and e <= b and e > s for a, b in spans):
                labels[k] = ids[k]
        weights = None
        if result_weight != 1.0:
            results = result_spans(rec["text"], spans)
            weights = [
                result_weight if lab != -100 and any(s < b and a < e for a, b in results) else 1.0
                for lab, (s, e) in zip(labels, offsets, strict=True)
            ]
        out.append((ids, labels, weights))
    return out


def tokenize_all(tok, texts: list[str], chunk: int = 8192) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """``(ids, character offsets)`` of every text without special tokens — what ``tok(text,
    return_offsets_mapping=True, add_special_tokens=False)`` gives one text at a time — from the
    Rust tokenizer's batch encoder on every core. ``TOKENIZERS_PARALLELISM`` is set to true for
    the call and restored after — to false when it was unset, so that a later fork (torch.compile's
    workers) prints no warning."""
    import os

    backend = tok.backend_tokenizer
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        out = []
        for i in range(0, len(texts), chunk):
            out += [(e.ids, e.offsets) for e in backend.encode_batch(texts[i : i + chunk], add_special_tokens=False)]
        return out
    finally:
        os.environ["TOKENIZERS_PARALLELISM"] = before if before is not None else "false"


def pad_batch(encoded: list[tuple], idx: list[int], pad: int) -> tuple:
    """The records ``idx`` of ``encoded`` (:func:`encode` or :func:`encode_weighted` tuples) as
    padded tensors ``(input_ids, attention_mask, labels, weights)``: ids padded with ``pad``,
    labels with -100, the mask 1 on real tokens; ``weights`` is None when the records carry none
    and 1 on padding otherwise."""
    import torch

    width = max(len(encoded[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad, dtype=torch.long)
    lab = torch.full((len(idx), width), -100, dtype=torch.long)
    att = torch.zeros((len(idx), width), dtype=torch.long)
    weighted = len(encoded[idx[0]]) > 2 and encoded[idx[0]][2] is not None
    wts = torch.ones((len(idx), width)) if weighted else None
    for r, i in enumerate(idx):
        x, y = encoded[i][0], encoded[i][1]
        ids[r, : len(x)] = torch.tensor(x)
        lab[r, : len(y)] = torch.tensor(y)
        att[r, : len(x)] = 1
        if wts is not None:
            wts[r, : len(encoded[i][2])] = torch.tensor(encoded[i][2])
    return ids, att, lab, wts


def make_batches(lengths: list[int], batch_tokens: int, seed: int) -> list[list[int]]:
    """Length-bucketed batches of indices (≤ batch_tokens padded tokens each), in shuffled order."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    chunk = 2048
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: lengths[i])
        cur: list[int] = []
        longest = 0
        for i in part:
            longest2 = max(longest, lengths[i])
            if cur and longest2 * (len(cur) + 1) > batch_tokens:
                batches.append(cur)
                cur, longest2 = [], lengths[i]
            cur.append(i)
            longest = longest2
        if cur:
            batches.append(cur)
    rng.shuffle(batches)
    return batches


def lr_at(step: int, total: int, cfg: dict) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of the peak."""
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    t = (step - cfg["warmup"]) / max(1, total - cfg["warmup"])
    return cfg["lr"] * (cfg["min_lr_ratio"] + (1 - cfg["min_lr_ratio"]) * 0.5 * (1 + math.cos(math.pi * t)))


def loss_token_weights(tok, mark_weight: float):
    """Per-vocabulary loss weights: ``mark_weight`` on the token of the value check's match mark
    (``tiny_data.MATCH``, ``!``), 1 elsewhere; None when every weight is 1."""
    import torch

    from chainlab.models.tiny_data import MATCH

    if mark_weight == 1.0:
        return None
    ids = tok(MATCH, add_special_tokens=False)["input_ids"]
    if len(ids) != 1 or ids[0] == tok.unk_token_id:
        raise ValueError(f"the tokenizer has no single token for the mark {MATCH!r}; use --mark-weight 1")
    weights = torch.ones(len(tok))
    weights[ids[0]] = mark_weight
    return weights


def answer_positions(states, labels):
    """The rows of ``states`` (batch, time, ...) that predict a labelled (answer) token, and those
    tokens: ``(states[n, ...], target[n])``. Training projects only these hidden states to the
    vocabulary, not every position."""
    target = labels[:, 1:]
    keep = target != -100
    return states[:, :-1][keep], target[keep]


def target_weights(weights, labels):
    """The per-position loss ``weights[batch, time]`` of the tokens :func:`answer_positions`
    keeps, in its order (None stays None)."""
    if weights is None:
        return None
    return weights[:, 1:][labels[:, 1:] != -100]


def token_loss(logits, target, token_weights=None, position_weights=None):
    """Cross-entropy of ``logits[n, vocab]`` against ``target[n]``.

    With ``token_weights`` (one weight per vocabulary id) and/or ``position_weights`` (one per
    target, :func:`target_weights`) each target token's loss is weighted by the product of its
    weights and the sum is normalized by the total weight, so weight 1 everywhere equals the
    plain mean.
    """
    import torch.nn.functional as F

    ce = F.cross_entropy(logits.float(), target, reduction="none")
    if token_weights is None and position_weights is None:
        return ce.mean()
    w = token_weights[target] if token_weights is not None else 1.0
    if position_weights is not None:
        w = w * position_weights
    return (ce * w).sum() / w.sum()


def answer_loss(logits, labels, token_weights=None):
    """Next-token cross-entropy on the labelled (answer) tokens of full ``logits[batch, time, vocab]``."""
    return token_loss(*answer_positions(logits, labels), token_weights)


def plot_loss(history: list[dict], path: Path, earlier: list[dict] | None = None) -> None:
    """Save the training loss curve (raw and smoothed) as a PNG.

    ``earlier``: the history of the run this one continued (``--init-from``), drawn first, with a
    line where this run starts.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = len(earlier or [])
    history = list(earlier or []) + [dict(h, step=h["step"] + start) for h in history]
    steps = [h["step"] for h in history]
    loss = [h["loss"] for h in history]
    smooth, acc = [], None
    for v in loss:
        acc = v if acc is None else 0.95 * acc + 0.05 * v
        smooth.append(acc)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, alpha=0.3, label="loss")
    ax.plot(steps, smooth, label="smoothed")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy on answers")
    ax.set_title("chainlab-tiny training")
    if start:
        ax.axvline(start + 0.5, color="gray", linestyle="--", linewidth=1, label="continued (--init-from)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- training


def data_phases(cfg: dict, out: Path) -> list[tuple[Path, int, int, float]]:
    """The generated data files of a run, in training order: ``(path, examples, seed, wide_share)``.

    One phase without a curriculum. With ``late_share`` > 0 the last ``late_share`` of the
    examples form a second phase, drawn from seed + 1 with ``late_wide_share``.
    """
    n, seed = cfg["examples"], cfg["seed"]
    wide = cfg.get("wide_share", DEFAULTS["wide_share"])
    late = cfg.get("late_share", 0.0)
    n_late = round(n * late)

    mix = cfg.get("mix", DEFAULTS["mix"])
    value_format = cfg.get("value_format", DEFAULTS["value_format"])
    judge_other = cfg.get("judge_other_share", DEFAULTS["judge_other_share"])
    judge_small = cfg.get("judge_small_share", DEFAULTS["judge_small_share"])
    judge_low = cfg.get("judge_low_share", DEFAULTS["judge_low_share"])
    judge_correct = cfg.get("judge_correct_share", DEFAULTS["judge_correct_share"])
    propose_format = cfg.get("propose_format", DEFAULTS["propose_format"])
    judge_format = cfg.get("judge_format", DEFAULTS["judge_format"])
    cot_format = cfg.get("cot_format", DEFAULTS["cot_format"])

    def path(n_: int, seed_: int, wide_: float) -> Path:
        tag = "" if wide_ == DEFAULTS["wide_share"] else f"-w{wide_:g}"
        tag += "" if mix == DEFAULTS["mix"] else "-m" + hashlib.sha1(format_mix(mix).encode()).hexdigest()[:8]
        tag += "" if value_format == DEFAULTS["value_format"] else f"-v{value_format}"
        tag += "" if judge_other == DEFAULTS["judge_other_share"] else f"-j{judge_other:g}"
        tag += "" if judge_small == DEFAULTS["judge_small_share"] else f"-js{judge_small:g}"
        tag += "" if judge_low == DEFAULTS["judge_low_share"] else f"-jl{judge_low:g}"
        tag += "" if judge_correct == DEFAULTS["judge_correct_share"] else f"-jc{judge_correct:g}"
        tag += "" if propose_format == DEFAULTS["propose_format"] else f"-p{propose_format}"
        tag += "" if judge_format == DEFAULTS["judge_format"] else f"-J{judge_format}"
        tag += "" if cot_format == DEFAULTS["cot_format"] else f"-c{cot_format}"
        return out / f"data-s{seed_}-n{n_}{tag}.jsonl"

    phases = [(path(n - n_late, seed, wide), n - n_late, seed, wide)]
    if n_late:
        late_wide = cfg.get("late_wide_share", DEFAULTS["late_wide_share"])
        phases.append((path(n_late, seed + 1, late_wide), n_late, seed + 1, late_wide))
    return phases


def recipe_from_config(cfg: dict, wide_share: float | None = None) -> DataRecipe:
    """The data recipe of a run's config (options it lacks at their defaults); ``wide_share``
    overrides the config's (a curriculum's late phase)."""
    keys = (
        "mix", "value_format", "judge_other_share", "judge_small_share", "judge_low_share",
        "judge_correct_share", "propose_format", "judge_format", "cot_format",
    )  # fmt: skip
    wide = cfg.get("wide_share", DEFAULTS["wide_share"]) if wide_share is None else wide_share
    return DataRecipe(wide_share=wide, **{k: cfg.get(k, DEFAULTS[k]) for k in keys})


def deterministic_kernels(fn):
    """Run ``fn`` with torch's deterministic algorithms on (``warn_only``), then restore the setting.

    Otherwise two runs of one command with ``--compile`` on two threads drift apart after a few
    dozen steps (likely ``torch.compile``'s CPU kernels adding accumulating scatters up with atomic
    adds across threads; not isolated). With deterministic algorithms on, a run repeats bit for bit
    on one machine with the same ``--threads`` (research notes, session 46). Uninitialized
    memory is not filled with NaN (torch's default in this mode): the training never reads it.
    """

    @functools.wraps(fn)
    def run(*args, **kwargs):
        import torch
        import torch.utils.deterministic

        before = (torch.are_deterministic_algorithms_enabled(),
                  torch.is_deterministic_algorithms_warn_only_enabled(),
                  torch.utils.deterministic.fill_uninitialized_memory)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False
        try:
            return fn(*args, **kwargs)
        finally:
            torch.use_deterministic_algorithms(before[0], warn_only=before[1])
            torch.utils.deterministic.fill_uninitialized_memory = before[2]

    return run


@deterministic_kernels
def train(
    out: Path,
    cfg: dict,
    data: str | None = None,
    threads: int = 0,
    resume: bool = True,
    stop_after: int | None = None,
    init_from: Path | None = None,
    compiled: bool = False,
    bf16: bool = False,
    bf16_auto: bool = False,
    attention: str = "auto",
    bf16_from_step: int = 0,
) -> Path:
    """Run the whole recipe into ``out``; returns ``out``.

    ``init_from``: a model directory to continue from (its tokenizer and architecture are used).
    ``compiled``: run the transformer body through ``torch.compile`` (same losses within float
    rounding, faster steps once compiled). ``bf16``: the forward pass under ``torch.autocast``
    in bfloat16 (mixed precision: float32 weights, gradients, optimizer and loss).
    ``bf16_auto``: ``bf16`` was chosen by the CPU (``--bf16 auto``); the log says so.
    ``bf16_from_step``: with ``bf16``, the steps before this one run in float32 (and float32's
    attention kernel), the rest in bfloat16.
    ``attention``: the attention kernel of the training steps (:func:`training_attention`); the
    saved model loads with the library's default.
    """
    import torch
    from tqdm import tqdm
    from transformers import LlamaForCausalLM

    from chainlab.models.answer_forward import answer_index
    from chainlab.models.tiny_data import write_dataset

    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    if data:
        phase_records = [load_records(Path(data))]
    else:
        phase_records = []
        for path, n, seed, wide in data_phases(cfg, out):
            if not path.exists():
                write_dataset(path, n, seed, recipe_from_config(cfg, wide))
            phase_records.append(load_records(path))
    records = [rec for recs in phase_records for rec in recs]
    t_data = time.time() - t_start

    ckpt = out / "checkpoint"
    if resume and (ckpt / "state.json").exists():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(ckpt)
    elif init_from is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(init_from)
        tok.chat_template = LLAMA2_CHAT_TEMPLATE
    else:
        tok = build_tokenizer(
            tokenizer_corpus(records, cfg["seed"]), cfg["vocab_size"], cfg.get("fraction_tokens", False)
        )
    for key in ("local_files_only", "is_local"):  # loading options, not part of the saved tokenizer
        tok.init_kwargs.pop(key, None)
    encoded = encode_weighted(records, tok, cfg.get("result_weight", 1.0))
    lengths = [len(ids) for ids, _, _ in encoded]
    if max(lengths) > cfg["max_positions"]:
        raise ValueError(f"a training example has {max(lengths)} tokens > {cfg['max_positions']}")
    batches: list[list[int]] = []
    offset = 0
    for k, recs in enumerate(phase_records):  # each phase shuffled within itself, phases in order
        part = make_batches(lengths[offset : offset + len(recs)], cfg["batch_tokens"], cfg["seed"] + k)
        if k == len(phase_records) - 1 and k:
            cfg["late_from_step"] = len(batches)
        batches += [[offset + i for i in b] for b in part]
        offset += len(recs)
    total = len(batches)
    late_from = cfg.get("late_from_step", 0)  # the mark weight applies from here on

    torch.manual_seed(cfg["seed"])
    if init_from is not None:
        model = LlamaForCausalLM.from_pretrained(init_from, dtype=torch.float32)
        if cfg.get("widen"):
            from chainlab.models.widen import widen_llama

            model = widen_llama(model, *cfg["widen"])  # new weights from a fixed generator (seed 0)
        mc = model.config
        cfg.update(
            init_from=str(init_from),
            hidden_size=mc.hidden_size,
            layers=mc.num_hidden_layers,
            heads=mc.num_attention_heads,
            intermediate_size=mc.intermediate_size,
            max_positions=mc.max_position_embeddings,
            vocab_size=mc.vocab_size,
        )
    else:
        model = LlamaForCausalLM(_llama_config(cfg, tok))
    attn = training_attention(attention, bf16)  # of the bfloat16 steps; set at the first step
    opt = build_optimizer(model, cfg.get("optimizer", "adamw"), cfg["lr"], cfg["weight_decay"])
    start, history, elapsed = 0, [], 0.0
    if resume and (ckpt / "state.json").exists():
        from safetensors.torch import load_file

        model.load_state_dict(load_file(ckpt / "model.safetensors"), strict=False)
        model.tie_weights()
        try:
            opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        except (ValueError, KeyError) as e:
            raise ValueError(
                f"{ckpt} was written with another --optimizer than {cfg.get('optimizer', 'adamw')!r} ({e}); "
                "resume with the run's own options, or start over with --no-resume"
            ) from e
        state = json.loads((ckpt / "state.json").read_text())
        start, history, elapsed = state["step"], state["history"], state["elapsed"]
        print(f"resuming from step {start} of {total}")
    else:
        tok.save_pretrained(ckpt)

    n_params = sum(p.numel() for p in model.parameters())
    model.train()
    t0 = time.time() - elapsed
    bar = tqdm(range(start, total), initial=start, total=total, desc="train chainlab-tiny", unit="step")
    pad = tok.eos_token_id
    token_weights = loss_token_weights(tok, cfg.get("mark_weight", 1.0))
    forward, step_bf16 = None, None
    for step in bar:
        if step_bf16 is not (bf16 and step >= bf16_from_step):  # the first step, and the switch
            step_bf16 = bf16 and step >= bf16_from_step
            model.set_attn_implementation(training_attention(attention, step_bf16))
            forward = training_forward(model, compiled)
        ids, att, lab, wts = pad_batch(encoded, batches[step], pad)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, cfg)
        index, target = answer_index(lab)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=step_bf16):
            logits = model.lm_head(forward(ids, att, index))
        loss = token_loss(
            logits, target, token_weights if step >= late_from else None, target_weights(wts, lab)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        history.append({"step": step + 1, "loss": round(loss.item(), 5), "lr": g["lr"]})
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if (step + 1) % cfg["checkpoint_every"] == 0 and step + 1 < total:
            _checkpoint(model, opt, ckpt, step + 1, history, time.time() - t0)
        if stop_after is not None and step + 1 >= stop_after:
            raise KeyboardInterrupt(f"stopped after step {step + 1} (checkpoint kept in {ckpt})")
    train_seconds = time.time() - t0

    model.config.torch_dtype = "float16"
    model.half().save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    (out / "generation_config.json").exists() or model.generation_config.save_pretrained(out)
    log = {
        "config": cfg,
        "parameters": n_params,
        "examples": len(records),
        "steps": total,
        "tokens": int(sum(lengths)),
        "data_seconds": round(t_data, 1),
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the step time depends on it
        "compiled": compiled,
        "deterministic": True,  # deterministic_kernels: the run repeats bit for bit
        "bf16": bf16,
        "bf16_flag": "auto" if bf16_auto else "on" if bf16 else "off",
        "attention": attn,
        "bf16_from_step": bf16_from_step if bf16 or bf16_auto else None,  # the flag, also where auto chose float32
        "final_loss_avg100": round(sum(h["loss"] for h in history[-100:]) / min(100, len(history)), 5),
        "history": history,
    }
    (out / "training_log.json").write_text(json.dumps(log))
    earlier = None
    if init_from is not None and (init_from / "training_log.json").exists():
        earlier = json.loads((init_from / "training_log.json").read_text()).get("history")
    plot_loss(history, out / "loss_curve.png", earlier)
    shutil.rmtree(ckpt, ignore_errors=True)
    print(f"saved {out} ({n_params / 1e6:.2f}M parameters, {train_seconds / 60:.1f} min training)")
    return out


def compiled_body(model):
    """``model.model`` (the transformer without its head) through ``torch.compile`` with dynamic
    shapes, so that batches of any size and width reuse one compiled graph."""
    return compile_dynamic(model.model)


def training_forward(model, compile_it: bool = False):
    """The forward of a training step: :class:`~chainlab.models.answer_forward.AnswerForward`
    (final hidden states at the answer-predicting positions only), compiled if asked."""
    from chainlab.models.answer_forward import AnswerForward

    forward = AnswerForward(model)
    return compile_dynamic(forward) if compile_it else forward


def compile_dynamic(module):
    """``module`` through ``torch.compile`` with dynamic shapes (batches of any size and width
    reuse one compiled graph); a clear error when there is no C++ compiler."""
    import torch

    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as exc:  # no C++ toolchain: say so before the first step fails deep inside
        raise ValueError(f"--compile needs a C++ compiler for torch.compile ({exc}); install gcc or drop --compile") from exc
    return torch.compile(module, dynamic=True)


def _llama_config(cfg: dict, tok):
    """The ``LlamaConfig`` of a model trained from scratch with ``cfg`` and tokenizer ``tok``."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg["hidden_size"],
        num_hidden_layers=cfg["layers"],
        num_attention_heads=cfg["heads"],
        num_key_value_heads=cfg["heads"],
        intermediate_size=cfg["intermediate_size"],
        max_position_embeddings=cfg["max_positions"],
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )


def _checkpoint(model, opt, ckpt: Path, step: int, history: list, elapsed: float) -> None:
    import torch
    from safetensors.torch import save_file

    ckpt.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    state.pop("lm_head.weight", None)  # tied to the embeddings
    save_file(state, ckpt / "model.safetensors.tmp")
    (ckpt / "model.safetensors.tmp").rename(ckpt / "model.safetensors")
    torch.save(opt.state_dict(), ckpt / "optimizer.pt")
    (ckpt / "state.json").write_text(json.dumps({"step": step, "history": history, "elapsed": elapsed}))


def main(argv: list[str] | None = None) -> int:
    """``python -m chainlab.models.train_tiny``."""
    p = argparse.ArgumentParser(prog="python -m chainlab.models.train_tiny", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
