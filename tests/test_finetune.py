"""SFT utilities (chainlab.models.sft) and LoRA fine-tuning (chainlab.models.finetune).

Everything runs on a tiny byte-level BPE tokenizer trained here on ``corpus_sample`` texts and a
random 2-layer Llama (hidden 32), so the whole file takes seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from chainlab.models import finetune as ft
from chainlab.models.sft import (
    CHECKPOINT_DIR,
    IGNORE_INDEX,
    PadCollator,
    SFTConfig,
    bucket_batches,
    tokenize_pair,
    tokenize_pairs,
    train_sft,
    trainable_state_dict,
)
from chainlab.tasks.arith import corpus_sample, generate_problems, sft_records

pytestmark = pytest.mark.slow
# A wider init than the default 0.02: with hidden 32 the default lm_head can only give nearly flat
# logits behind the final RMSNorm, so an adapter on the inner projections could barely move the loss.
INIT_RANGE = 0.15


# ---------------------------------------------------------------- fixtures



def _build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_sample(300, seed=0), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<unk>",
    )


@pytest.fixture(scope="module")
def tokenizer():
    return _build_tokenizer()


def _tiny_llama(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=INIT_RANGE,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, tokenizer) -> Path:
    d = tmp_path_factory.mktemp("tiny-base")
    _tiny_llama(tokenizer).save_pretrained(d)
    tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    probs = generate_problems(6, seed=0)
    return [(r["prompt"], r["completion"]) for r in sft_records(probs, ("steps", "direct"))]


# ---------------------------------------------------------------- tokenization and batching


def test_labels_mask_the_prompt_token_by_token(tokenizer, pairs):
    for prompt, completion in pairs:
        ex = tokenize_pair(tokenizer, prompt, completion)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full = tokenizer(prompt + " " + completion + " </s>", add_special_tokens=False)
        # the separate encodings concatenate to the full text's encoding (no merge at the seam)
        assert ex["input_ids"] == full["input_ids"]
        assert ex["input_ids"][0] == tokenizer.bos_token_id  # <s> of the prompt, not doubled
        assert ex["input_ids"][1] != tokenizer.bos_token_id
        assert ex["input_ids"][-1] == tokenizer.eos_token_id
        n = len(p_ids)
        for i, (tok_id, label) in enumerate(zip(ex["input_ids"], ex["labels"], strict=True)):
            if i < n:
                assert label == IGNORE_INDEX
                assert tok_id == p_ids[i]
            else:
                assert label == tok_id
        completion_text = tokenizer.decode(ex["input_ids"][n:])
        assert completion_text.strip() == (completion + " </s>").strip()


def test_batched_tokenization_matches_and_truncates(tokenizer, pairs):
    batch, dropped = tokenize_pairs(tokenizer, pairs)
    assert dropped == 0
    assert batch == [tokenize_pair(tokenizer, p, c) for p, c in pairs]
    n_prompt = len(tokenizer(pairs[0][0], add_special_tokens=False)["input_ids"])
    cut, dropped = tokenize_pairs(tokenizer, pairs[:1], max_length=n_prompt + 2)
    assert len(cut[0]["input_ids"]) == n_prompt + 2 and dropped == 0
    none, dropped = tokenize_pairs(tokenizer, pairs[:1], max_length=n_prompt)
    assert none == [] and dropped == 1


def test_pad_collator():
    batch = PadCollator(pad_token_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def test_bucket_batches_cover_everything_once():
    lengths = [(i * 37) % 101 for i in range(103)]
    batches = bucket_batches(lengths, batch_size=8, seed=1, bucket_size=4)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(103))
    assert len(batches) == 13
    assert batches == bucket_batches(lengths, batch_size=8, seed=1, bucket_size=4)
    # inside a batch, lengths are close: sorted chunks of 32
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread < 0.5 * sum(max(lengths) - min(lengths) for _ in batches)


# ---------------------------------------------------------------- training loop


def test_train_sft_loss_decreases_and_writes_history(tmp_path, tokenizer, pairs):
    model = _tiny_llama(tokenizer)
    cfg = SFTConfig(max_steps=40, lr=1e-2, batch_size=4, save_every=0, progress=False)
    res = train_sft(model, tokenizer, pairs, cfg, tmp_path)
    losses = [h["loss"] for h in res.history]
    assert res.steps == 40 and len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    saved = json.loads((tmp_path / "loss_history.json").read_text())
    assert [h["step"] for h in saved] == list(range(1, 41))
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert not model.training


def _interrupt_at(step_to_stop: int, exc: type[BaseException]):
    def on_step(step: int, loss: float) -> None:
        if step == step_to_stop:
            raise exc()

    return on_step


class _Crash(Exception):
    pass


def test_resume_continues_at_the_saved_step(tmp_path, tokenizer, pairs):
    cfg = SFTConfig(max_steps=8, lr=5e-3, batch_size=4, save_every=3, progress=False)

    reference = _tiny_llama(tokenizer)
    train_sft(reference, tokenizer, pairs, cfg, tmp_path / "ref")

    # a crash at step 5: the last checkpoint is the one of step 3
    model = _tiny_llama(tokenizer)
    with pytest.raises(_Crash):
        train_sft(model, tokenizer, pairs, cfg, tmp_path / "run", on_step=_interrupt_at(5, _Crash))
    state = json.loads((tmp_path / "run" / CHECKPOINT_DIR / "trainer_state.json").read_text())
    assert state["step"] == 3
    model = _tiny_llama(tokenizer)  # a fresh process would start from the base weights
    res = train_sft(model, tokenizer, pairs, cfg, tmp_path / "run")
    assert res.resumed_from == 3 and res.steps == 8
    assert [h["step"] for h in res.history] == list(range(1, 9))
    ref_w, got_w = trainable_state_dict(reference), trainable_state_dict(model)
    assert ref_w.keys() == got_w.keys()
    for name in ref_w:
        torch.testing.assert_close(got_w[name], ref_w[name], rtol=1e-4, atol=1e-5)


def test_ctrl_c_saves_a_checkpoint_at_the_current_step(tmp_path, tokenizer, pairs):
    cfg = SFTConfig(max_steps=6, lr=5e-3, batch_size=4, save_every=0, progress=False)
    model = _tiny_llama(tokenizer)
    with pytest.raises(KeyboardInterrupt):
        train_sft(
            model, tokenizer, pairs, cfg, tmp_path, on_step=_interrupt_at(4, KeyboardInterrupt)
        )
    state = json.loads((tmp_path / CHECKPOINT_DIR / "trainer_state.json").read_text())
    assert state["step"] == 4
    res = train_sft(_tiny_llama(tokenizer), tokenizer, pairs, cfg, tmp_path)
    assert res.resumed_from == 4 and res.steps == 6
    # other data: the checkpoint is not silently reused
    with pytest.raises(ValueError, match="different run"):
        train_sft(_tiny_llama(tokenizer), tokenizer, pairs[:3], cfg, tmp_path)


# ---------------------------------------------------------------- LoRA fine-tuning


def _greedy(model, tokenizer, prompt: str, n: int = 12) -> list[int]:
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(
            ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    return out[0, ids.shape[1] :].tolist()


def test_finetune_lora_trains_saves_and_loads(tmp_path, base_dir, pairs):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    records = [{"prompt": p, "completion": c} for p, c in pairs]
    out = ft.finetune_lora(
        base_dir,
        records,
        tmp_path / "adapter",
        max_steps=30,
        lr=3e-2,
        rank=4,
        alpha=8,
        batch_size=4,
        save_every=10,
        progress=False,
    )
    assert (out / "adapter_config.json").exists()
    assert (out / "adapter_model.safetensors").exists()
    assert not list(out.glob("*.bin")) and not (out / CHECKPOINT_DIR).exists()
    assert (out / "tokenizer.json").exists() or (out / "tokenizer_config.json").exists()
    args = json.loads((out / "training_args.json").read_text())
    assert args["steps"] == 30 and args["lora"]["r"] == 4
    assert set(args["lora"]["target_modules"]) == set(ft.DEFAULT_TARGET_MODULES)
    history = json.loads((out / "loss_history.json").read_text())
    losses = [h["loss"] for h in history]
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5

    tok = AutoTokenizer.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    prompt = pairs[0][0]
    before = _greedy(base, tok, prompt)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), out)
    after = _greedy(tuned, tok, prompt)
    assert after != before
    # the adapter is small: only LoRA weights were saved
    from safetensors.torch import load_file

    saved = load_file(str(out / "adapter_model.safetensors"))
    assert saved and all("lora_" in k for k in saved)
    # stored in float16 (half the size), loaded back into the float32 model's LoRA weights
    assert {v.dtype for v in saved.values()} == {torch.float16}
    loaded = {k: v for k, v in tuned.state_dict().items() if "lora_" in k}
    assert loaded and {v.dtype for v in loaded.values()} == {torch.float32}
    name = next(k for k in saved if "lora_B" in k)
    match = next(v for k, v in loaded.items() if k.startswith(name.removesuffix(".weight")))
    assert torch.equal(match, saved[name].float())

    # a second run into the same directory is refused without overwrite
    with pytest.raises(ft.FinetuneError, match="already holds"):
        ft.finetune_lora(base_dir, records, out, max_steps=1, progress=False)
    ft.finetune_lora(base_dir, records, out, max_steps=2, overwrite=True, progress=False)
    assert json.loads((out / "training_args.json").read_text())["steps"] == 2


def test_finetune_rejects_unknown_target_modules(tmp_path, base_dir, pairs):
    with pytest.raises(ft.FinetuneError, match="not linear layers"):
        ft.finetune_lora(base_dir, pairs, tmp_path / "a", target_modules=["nope"], progress=False)


# ---------------------------------------------------------------- data loading and CLI errors


def test_load_records_formats_and_errors(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"prompt": "<s>[INST] hi [/INST]", "completion": "yo", "kind": "x"})
        + "\n\n"
        + json.dumps({"question": "1 + 1?", "answer": 2})
        + "\n"
    )
    assert ft.load_records(good) == [
        ("<s>[INST] hi [/INST]", "yo"),
        ("<s>[INST] 1 + 1? [/INST]", "2"),
    ]
    cases = {
        '{"prompt": "a", "completion": "b"}\n{"prompt": "a"\n': "line 2: not valid JSON",
        '["a", "b"]\n': "line 1: expected a JSON object",
        '{"text": "a"}\n': "line 1: needs 'prompt' and 'completion'",
        '{"prompt": "a"}\n': "line 1: has 'prompt' but no 'completion'",
        '{"prompt": "a", "completion": 3}\n': "line 1: 'completion' must be a string",
        '{"prompt": "a", "completion": " "}\n': "line 1: 'completion' is empty",
        "\n\n": "has no records",
    }
    for i, (text, message) in enumerate(cases.items()):
        bad = tmp_path / f"bad{i}.jsonl"
        bad.write_text(text)
        with pytest.raises(ft.FinetuneError, match=message):
            ft.load_records(bad)
    with pytest.raises(FileNotFoundError):
        ft.load_records(tmp_path / "missing.jsonl")


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    ft.add_arguments(parser)
    return ft.run(parser.parse_args(list(argv)))


def test_cli_errors(tmp_path, base_dir, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "<s>[INST] a [/INST]", "completion": "b"}) + "\n")
    out = tmp_path / "out"

    assert (
        _cli("--model", str(base_dir), "--data", str(tmp_path / "nope.jsonl"), "--out", str(out))
        == 2
    )
    assert "Data file not found" in capsys.readouterr().err

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{oops}\n')
    assert _cli("--model", str(base_dir), "--data", str(bad), "--out", str(out)) == 2
    assert "line 2: not valid JSON" in capsys.readouterr().err

    assert _cli("--model", "no-such-model", "--data", str(data), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "Unknown base model 'no-such-model'" in err and "chainlab-tiny" in err

    out.mkdir()
    (out / "adapter_config.json").write_text("{}")
    assert _cli("--model", str(base_dir), "--data", str(data), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "--overwrite" in err

    stale = tmp_path / "stale"  # an unfinished run with other data: not silently resumed
    (stale / CHECKPOINT_DIR).mkdir(parents=True)
    (stale / CHECKPOINT_DIR / "trainer_state.json").write_text('{"run_id": "other", "step": 1}')
    assert _cli("--model", str(base_dir), "--data", str(data), "--out", str(stale)) == 2
    assert "different run" in capsys.readouterr().err

    ok = tmp_path / "ok"
    assert (
        _cli(
            "--model",
            str(base_dir),
            "--data",
            str(data),
            "--out",
            str(ok),
            "--max-steps",
            "2",
            "--rank",
            "2",
            "--target-modules",
            "q_proj,v_proj",
            "--no-progress",
        )
        == 0
    )
    assert "Saved the adapter" in capsys.readouterr().out
    cfg = json.loads((ok / "adapter_config.json").read_text())
    assert cfg["r"] == 2 and set(cfg["target_modules"]) == {"q_proj", "v_proj"}


def test_cli_module_keeps_heavy_imports_lazy():
    code = (
        "import sys, chainlab.models.finetune as m; "
        "assert callable(m.add_arguments) and callable(m.run); "
        "print(sorted(k for k in ('torch', 'transformers', 'peft') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from chainlab.cli import SUBCOMMANDS

    assert SUBCOMMANDS["finetune"][0] == "chainlab.models.finetune"
