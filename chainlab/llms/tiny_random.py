"""Build a tiny random-init Llama with a real BPE tokenizer, for tests and benchmarks.

The model is meaningless (random weights) but structurally a real ``LlamaForCausalLM`` with a real
``tokenizers``-backed tokenizer and a Llama-2 chat template, so every code path of
:mod:`chainlab.llms` (batching, padding, BOS handling, GPTQ, LoRA) runs against it offline.
"""

from __future__ import annotations

from pathlib import Path

LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)

_CORPUS = [
    "Use the numbers 4 7 8 8 and basic arithmetic to obtain 24.",
    "4 + 8 = 12 (left: 7 8 12). 12 - 7 = 5 (left: 5 8). 5 * 8 = 40.",
    "Question: what is 3 times 8? Answer: 24.",
    "The quick brown fox jumps over the lazy dog.",
    "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello there [/INST] Hi! How can I help?",
    "Let's think step by step. First add, then multiply, then check the result.",
    "Input: 1 2 3 4\nSteps:\n1 + 2 = 3\n3 * 3 = 9\n9 + 4 = 13\nAnswer: no",
    "Once upon a time, a small model learned to count: one, two, three, four, five.",
    "Evaluate if given numbers can reach 24 (sure/likely/impossible).",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 ()[]{}<>+-*/=.,:;!?'\"",
]


def build_tokenizer(vocab_size: int = 320):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ``<s>``/``</s>``/``<unk>`` and a chat template.

    It adds ``<s>`` at the start of every encoded text (like Llama's tokenizer) and has no pad token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        add_bos_token=True,
        add_eos_token=False,
        model_max_length=256,
    )
    fast.chat_template = LLAMA2_CHAT_TEMPLATE
    return fast


def build_tiny_llama(
    out_dir: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    max_position_embeddings: int = 256,
    vocab_size: int = 320,
    seed: int = 0,
) -> Path:
    """Save a random-init ``LlamaForCausalLM`` and its tokenizer in ``out_dir``; return the path.

    Defaults give a ~0.1M-parameter model that runs in milliseconds on a CPU.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Larger-than-default random weights so the tiny model's greedy outputs vary with the input.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2)
    model.generation_config.pad_token_id = None
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
