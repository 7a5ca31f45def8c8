"""Load a model (optionally with a LoRA adapter) and print one generation.

    chainlab generate --model chainlab-tiny --prompt "4 7 8 8" --max-new-tokens 64
    chainlab generate --model TheBloke/Llama-2-13B-chat-GPTQ --system "Be brief." --prompt "Hi"

The prompt is chat-formatted when --system is given or the model is a chat model (its chat
template, else the Llama-2 format); --raw sends it unchanged.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``chainlab generate``."""
    parser.add_argument("--model", required=True, help="Hub id, local directory or packaged name")
    parser.add_argument("--adapter", help="PEFT/LoRA adapter directory or packaged name")
    parser.add_argument("--prompt", help="the prompt (default: read from stdin)")
    parser.add_argument("--system", help="system message (turns on chat formatting)")
    parser.add_argument("--raw", action="store_true", help="no chat formatting")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=None, help="0 or unset: greedy")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--dtype", default=None, help="float32, float16, bfloat16, auto")
    parser.add_argument("--merge-adapter", action="store_true", help="merge the LoRA weights")
    parser.add_argument("--trust-remote-code", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Run ``chainlab generate``."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.prompt_values import ChatPromptValue

    from chainlab.llms import load_llm
    from chainlab.llms.errors import (
        AdapterMismatchError,
        MissingDependencyError,
        ModelNotFoundError,
        PromptTooLongError,
    )

    prompt = args.prompt
    if prompt is None:
        if sys.stdin.isatty():
            print("error: give --prompt TEXT (or pipe the prompt on stdin)", file=sys.stderr)
            return 2
        prompt = sys.stdin.read()
    try:
        llm = load_llm(
            args.model,
            adapter=args.adapter,
            device=args.device,
            dtype=args.dtype,
            merge_adapter=args.merge_adapter,
            trust_remote_code=args.trust_remote_code,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            seed=args.seed,
        )
        chat = not args.raw and (args.system is not None or llm.chat_format != "none")
        if chat:
            if llm.chat_format == "none":
                llm = llm.model_copy(update={"chat_format": "llama2"})
            messages = [SystemMessage(args.system)] if args.system else []
            text = llm.invoke(ChatPromptValue(messages=[*messages, HumanMessage(prompt)]), stop=args.stop)
        else:
            text = llm.invoke(prompt, stop=args.stop)
    except (
        ModelNotFoundError,
        AdapterMismatchError,
        MissingDependencyError,
        PromptTooLongError,
        FileNotFoundError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
