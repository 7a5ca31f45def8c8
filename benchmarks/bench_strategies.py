"""Benchmark: Tree-of-Thoughts BFS (b=5) and CoT-SC (k=10) on the Game of 24, chainlab vs naive LangChain.

    python benchmarks/bench_strategies.py --model chainlab-tiny --threads 1 --json bench.json
    python benchmarks/bench_strategies.py --limit 2   # smoke run

Both sides run the **same strategies** (``chainlab compare``'s ``tot`` and ``cot-sc``: the same
prompts, parsers, search, votes and seeds) on the **same model object**; only how the LLM calls
are executed differs:

* **chainlab**: :class:`~chainlab.llms.LocalLLM`; ``strategy.batch(puzzles)`` sends each stage's
  calls of all puzzles in a chunk as one batched call (every ToT proposal of a tree level, every
  value prompt, all k CoT samples), sub-batched to fit memory, with shared prefixes and each
  prompt's ``n`` samples prefilled once (:mod:`chainlab.llms.prefix_cache`).
* **naive LangChain**: ``langchain_huggingface.HuggingFacePipeline`` around a ``transformers``
  text-generation pipeline, invoked once per completion in a Python loop, one puzzle after the
  other — written as a competent user would: per-call ``pipeline_kwargs`` with
  ``max_new_tokens``, ``do_sample``/``temperature``, ``return_full_text=False``, the pipeline's
  ``stop_sequence`` (cut from the text, as HuggingFacePipeline does not) and no second BOS for
  prompts that already start with ``<s>``. ``HuggingFacePipeline`` keeps only the first of
  ``num_return_sequences``, so ``n`` samples are ``n`` calls.

Printed per strategy: seconds, puzzles/s, generated tokens/s (chainlab: its token usage; naive:
the returned completions re-tokenized), accuracy, LLM calls (chainlab: batched calls, one per
stage and tree level per chunk; naive: ``HuggingFacePipeline.invoke`` calls), peak RSS and the
speed ratio; then chainlab's time per puzzle as the number of puzzles grows (``--scaling``,
default 10, 30, 100; the naive loop is linear by construction). ``--markdown`` also prints the
tables in Markdown (for the README). ``--limit N``
runs both sides on the first N test puzzles (the naive side is slow: hours for 100 puzzles on one
core). ``--json FILE`` writes ``{"tot": {"chainlab_s", "naive_s", "ratio", "chainlab_accuracy",
"naive_accuracy", "peak_rss_mb", ...}, "cot_sc": {...}, "scaling": {...}, "meta": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: CLI strategy names (chainlab.eval.strategies) and their JSON keys
STRATEGIES = {"tot": "tot", "cot-sc": "cot_sc"}


# --------------------------------------------------------------------------- measurement


class PeakRSS:
    """The peak resident memory of this process while a block runs (sampled every 20 ms)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss(self) -> int:
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except Exception:
            import resource

            return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak_bytes = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._rss())

    @property
    def mb(self) -> float:
        return self.peak_bytes / 2**20


@dataclass
class SideResult:
    """One side's run of one strategy."""

    puzzles: int
    seconds: float
    correct: int
    generated_tokens: int
    llm_calls: int
    peak_rss_mb: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.puzzles if self.puzzles else 0.0

    @property
    def puzzles_per_s(self) -> float:
        return self.puzzles / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- the naive LLM


class NaiveLangChainLoop:
    """``HuggingFacePipeline.invoke`` once per completion, in a Python loop (the LangChain way).

    chainlab's strategies hand an LLM that declares ``supports_n`` one
    ``generate(prompts, n=..., temperature=..., do_sample=..., max_new_tokens=..., stop=...)``
    per stage; this answers it with ``len(prompts) * n`` separate ``invoke`` calls, so both sides
    get the same prompts and sampling settings. ``transformers.set_seed`` is called once per
    strategy run (a loop of calls has one random stream).
    """

    supports_n = True

    def __init__(self, model: Any, tokenizer: Any) -> None:
        from langchain_huggingface import HuggingFacePipeline
        from transformers import pipeline

        pipe = pipeline(
            "text-generation", model=model, tokenizer=tokenizer, max_new_tokens=256,
            return_full_text=False,
        )  # fmt: skip
        self.hf = HuggingFacePipeline(pipeline=pipe)
        self.tokenizer = tokenizer
        self.calls = 0
        self.generated_tokens = 0

    def generate(
        self,
        prompts: Sequence[str],
        stop: Sequence[str] | None = None,
        callbacks: Any = None,
        n: int = 1,
        temperature: float | None = None,
        do_sample: bool = False,
        max_new_tokens: int = 256,
        seed: int | None = None,
        **_: Any,
    ):
        from langchain_core.outputs import Generation, LLMResult

        bos = self.tokenizer.bos_token
        generations = []
        for prompt in prompts:
            kwargs: dict[str, Any] = {
                "max_new_tokens": max_new_tokens,
                "return_full_text": False,
                "do_sample": bool(do_sample),
            }
            if do_sample:
                kwargs["temperature"] = temperature if temperature else 1.0
            if stop:
                kwargs["stop_sequence"] = list(stop)
            if bos and prompt.startswith(bos):
                kwargs["add_special_tokens"] = False  # the prompt has its <s> already
            samples = []
            for _ in range(n):
                text = self.hf.invoke(prompt, pipeline_kwargs=kwargs)
                self.calls += 1
                self.generated_tokens += len(
                    self.tokenizer(text, add_special_tokens=False)["input_ids"]
                )
                if stop:
                    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
                    text = text[: min(cuts)] if cuts else text
                samples.append(Generation(text=text))
            generations.append(samples)
        return LLMResult(generations=generations)


# --------------------------------------------------------------------------- runs


def build(name: str, llm: Any, task: Any, puzzles: list[dict[str, Any]], seed: int) -> Any:
    """The ``chainlab compare`` strategy ``name`` over ``llm``, seeded like the harness seeds it."""
    from chainlab.eval.runner import prepare
    from chainlab.eval.strategies import build_strategies

    built = build_strategies([name], llm, task)
    _, strategies, _ = prepare(llm, task, built, puzzles, seed)
    return strategies[name]


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="puzzle", disable=not enabled, leave=False)


def run_chainlab(
    strategy: Any, puzzles: list[dict[str, Any]], chunk: int, desc: str, progress: bool
) -> SideResult:
    """``strategy.batch`` over chunks of ``chunk`` puzzles (every stage batched across a chunk)."""
    from chainlab.llms.usage import track_usage

    correct = calls = 0
    with PeakRSS() as rss, track_usage() as usage, _bar(len(puzzles), desc, progress) as bar:
        t0 = time.perf_counter()
        for start in range(0, len(puzzles), chunk):
            results = strategy.batch(puzzles[start : start + chunk])
            correct += sum(bool(r.correct) for r in results)
            calls += int(results[0].extra.get("llm_calls", 0)) if results else 0
            bar.update(len(results))
            bar.set_postfix(acc=f"{correct / (start + len(results)):.0%}")
        seconds = time.perf_counter() - t0
    return SideResult(len(puzzles), seconds, correct, usage.completion_tokens, calls, rss.mb)


def run_naive(
    strategy: Any, naive: NaiveLangChainLoop, puzzles: list[dict[str, Any]], seed: int,
    desc: str, progress: bool,
) -> SideResult:  # fmt: skip
    """``strategy.invoke`` per puzzle, every completion one ``HuggingFacePipeline.invoke``."""
    from transformers import set_seed

    set_seed(seed)
    naive.calls = naive.generated_tokens = 0
    correct = 0
    with PeakRSS() as rss, _bar(len(puzzles), desc, progress) as bar:
        t0 = time.perf_counter()
        for i, puzzle in enumerate(puzzles, 1):
            correct += bool(strategy.invoke(puzzle).correct)
            bar.update(1)
            bar.set_postfix(acc=f"{correct / i:.0%}")
        seconds = time.perf_counter() - t0
    return SideResult(len(puzzles), seconds, correct, naive.generated_tokens, naive.calls, rss.mb)


def scaling_sizes(sizes: Sequence[int], limit: int) -> list[int]:
    """The scaling sizes that fit in ``limit`` puzzles, always ending with ``limit``."""
    return sorted({s for s in sizes if 0 < s < limit} | {limit})


# --------------------------------------------------------------------------- report


def _row(name: str, side: str, r: SideResult) -> str:
    return (
        f"{name:<7} {side:<9} {r.seconds:>10.1f} {r.puzzles_per_s:>10.3f} {r.tokens_per_s:>10.0f} "
        f"{r.accuracy:>9.1%} {r.llm_calls:>9} {r.peak_rss_mb:>9.0f}"
    )


def report(results: dict[str, dict[str, Any]], scaling: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        f"{'':<7} {'side':<9} {'seconds':>10} {'puzzles/s':>10} {'gen tok/s':>10} "
        f"{'accuracy':>9} {'LLM calls':>9} {'peak MB':>9}"
    ]
    for name, entry in results.items():
        lines.append(_row(name, "chainlab", entry["_chainlab"]))
        if entry.get("_naive") is not None:
            lines.append(_row(name, "naive", entry["_naive"]))
            lines.append(f"{name:<7} {'ratio':<9} {entry['ratio']:>9.1f}x faster")
    if scaling:
        lines.append("")
        lines.append("chainlab time per puzzle as the number of puzzles grows:")
        for name, points in scaling.items():
            cells = ", ".join(f"{p['puzzles']}: {p['s_per_puzzle']:.2f} s" for p in points)
            lines.append(f"  {name:<7} {cells}")
    return "\n".join(lines)


def markdown(results: dict[str, dict[str, Any]], scaling: dict[str, list[dict[str, Any]]]) -> str:
    """The results as a Markdown table (for the README)."""
    out = [
        "| strategy | side | seconds | puzzles/s | generated tok/s | accuracy | peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results.items():
        for side in ("chainlab", "naive"):
            r = entry.get(f"_{side}")
            if r is None:
                continue
            label = "naive LangChain loop" if side == "naive" else "chainlab"
            out.append(
                f"| {name} | {label} | {r.seconds:.1f} | {r.puzzles_per_s:.3f} | "
                f"{r.tokens_per_s:.0f} | {r.accuracy:.1%} | {r.peak_rss_mb:.0f} |"
            )
        if entry.get("ratio") is not None:
            out.append(f"| {name} | **ratio** | **{entry['ratio']:.1f}x** | | | | |")
    if scaling:
        sizes = sorted({p["puzzles"] for pts in scaling.values() for p in pts})
        out += ["", "| strategy | " + " | ".join(f"{s} puzzles" for s in sizes) + " |"]
        out.append("|---|" + "---:|" * len(sizes))
        for name, pts in scaling.items():
            by = {p["puzzles"]: p["s_per_puzzle"] for p in pts}
            cells = " | ".join(f"{by[s]:.2f} s/puzzle" if s in by else "" for s in sizes)
            out.append(f"| {name} | {cells} |")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="chainlab-tiny", help="packaged name or model directory")
    p.add_argument("--limit", type=int, default=100, help="puzzles (first N of the test split)")
    p.add_argument(
        "--strategies", default="tot,cot-sc", help="comma-separated: tot, cot-sc (default both)"
    )
    p.add_argument(
        "--scaling", default="10,30,100",
        help="puzzle counts for chainlab's time-per-puzzle scaling ('' to skip)",
    )  # fmt: skip
    p.add_argument("--chunk", type=int, default=100, help="puzzles per strategy.batch (chainlab)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (both sides)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None, help="data directory (default: CHAINLAB_DATA)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive LangChain side")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    p.add_argument("--json", dest="json_path", default=None, help="write the results as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import torch

    from chainlab.llms import load_llm
    from chainlab.tasks.game24 import Game24Task

    if args.limit < 1 or args.chunk < 1 or args.threads < 1:
        raise SystemExit("--limit, --chunk and --threads must be >= 1.")
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise SystemExit(f"Unknown strategies {unknown}; choose from {sorted(STRATEGIES)}.")
    sizes = [int(s) for s in args.scaling.split(",") if s.strip()] if args.scaling else []
    torch.set_num_threads(args.threads)
    progress = not args.no_progress and sys.stderr.isatty()

    task = Game24Task(data_root=args.data_root)
    puzzles = task.load("test", limit=args.limit)
    llm = load_llm(args.model, device="cpu")
    naive = None if args.no_naive else NaiveLangChainLoop(llm.model, llm.tokenizer)
    llm.generate(["warm up"], max_new_tokens=2)  # one-time costs out of the timings
    print(
        f"Game of 24: {len(puzzles)} test puzzles, model {args.model}, {args.threads} thread(s), "
        f"torch {torch.__version__}",
        flush=True,
    )

    results: dict[str, dict[str, Any]] = {}
    scaling: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        strategy = build(name, llm, task, puzzles, args.seed)
        c = run_chainlab(strategy, puzzles, args.chunk, f"{name} chainlab", progress)
        entry: dict[str, Any] = {
            "chainlab_s": round(c.seconds, 3),
            "naive_s": None,
            "ratio": None,
            "chainlab_accuracy": round(c.accuracy, 4),
            "naive_accuracy": None,
            "peak_rss_mb": round(c.peak_rss_mb, 1),
            "puzzles": len(puzzles),
            "chainlab": {**asdict(c), "puzzles_per_s": c.puzzles_per_s, "tokens_per_s": c.tokens_per_s},
            "_chainlab": c,
        }
        print(_row(name, "chainlab", c), flush=True)
        if naive is not None:
            naive_strategy = build(name, naive, task, puzzles, args.seed)
            nv = run_naive(naive_strategy, naive, puzzles, args.seed, f"{name} naive", progress)
            entry.update(
                naive_s=round(nv.seconds, 3),
                ratio=round(nv.seconds / c.seconds, 2) if c.seconds else None,
                naive_accuracy=round(nv.accuracy, 4),
                naive={**asdict(nv), "puzzles_per_s": nv.puzzles_per_s, "tokens_per_s": nv.tokens_per_s},
                naive_peak_rss_mb=round(nv.peak_rss_mb, 1),
                _naive=nv,
            )
            print(_row(name, "naive", nv), flush=True)
        results[name] = entry
        points = []
        for size in scaling_sizes(sizes, len(puzzles)) if sizes else []:
            r = c if size == len(puzzles) else run_chainlab(
                strategy, puzzles[:size], args.chunk, f"{name} x{size}", progress
            )
            points.append(
                {"puzzles": size, "seconds": round(r.seconds, 3), "s_per_puzzle": r.seconds / size}
            )
        if points:
            scaling[name] = points

    print()
    print(report(results, scaling))
    if args.markdown:
        print()
        print(markdown(results, scaling))
    out: dict[str, Any] = {
        STRATEGIES[n]: {k: v for k, v in e.items() if not k.startswith("_")}
        for n, e in results.items()
    }
    out["scaling"] = {STRATEGIES[n]: pts for n, pts in scaling.items()}
    out["meta"] = {
        "model": args.model,
        "puzzles": len(puzzles),
        "threads": args.threads,
        "seed": args.seed,
        "chunk": args.chunk,
        "torch": torch.__version__,
        "max_batch_tokens": llm.batch_limits().tokens,
    }
    if args.json_path:
        path = Path(args.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")
    return out


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


if __name__ == "__main__":
    with _quiet_transformers():
        main()
