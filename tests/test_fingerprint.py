"""Weights fingerprints: equal for the same files, different once weights, config or tokenizer
change, cheap on big files (sampled), and resolved for packaged names, directories and Hub ids."""

from __future__ import annotations

import shutil

import pytest

from chainlab.llms.fingerprint import SAMPLE_BYTES, directory_fingerprint, weights_fingerprint
from chainlab.models.registry import available, packaged_path


def test_same_files_same_fingerprint_and_retrained_weights_change_it(tmp_path, tiny_model_dir):
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    fp = directory_fingerprint(tiny_model_dir)
    assert fp is not None and len(fp) == 16 and directory_fingerprint(copy) == fp
    (copy / "README.md").write_text("notes do not change what the model computes")
    assert directory_fingerprint(copy) == fp
    weights = load_file(copy / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + torch.full_like(weights[name], 1e-3)  # one more training step
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    changed = directory_fingerprint(copy)
    assert changed != fp
    tok = copy / "tokenizer.json"
    tok.write_text(tok.read_text().replace('"<unk>"', '"<UNK>"'))
    assert directory_fingerprint(copy) not in (fp, changed)


@pytest.mark.parametrize("offset", [0, 3 * SAMPLE_BYTES, 6 * SAMPLE_BYTES - 1])
def test_big_files_are_sampled_at_start_middle_and_end(tmp_path, offset):
    blob = bytearray(6 * SAMPLE_BYTES)
    (tmp_path / "model.safetensors").write_bytes(blob)
    fp = directory_fingerprint(tmp_path)
    blob[offset] = 1
    (tmp_path / "model.safetensors").write_bytes(blob)
    assert directory_fingerprint(tmp_path) != fp


def test_a_directory_without_weights_or_config_has_none(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert directory_fingerprint(tmp_path) is None


def test_names_resolve_like_load_llm(tmp_path, tiny_model_dir, tiny_lora_dir):
    assert weights_fingerprint(None) is None
    assert weights_fingerprint(tiny_model_dir) == directory_fingerprint(tiny_model_dir)
    assert weights_fingerprint(str(tiny_lora_dir), "adapter") == directory_fingerprint(tiny_lora_dir)
    # a Hub id that is not downloaded, and a path that does not exist: loading reports those
    assert weights_fingerprint("TheBloke/Llama-2-13B-chat-GPTQ") is None
    assert weights_fingerprint(str(tmp_path / "missing") + "/") is None
    for name in ("chainlab-tiny", "chainlab-tiny-arith"):
        if name in available():
            kind = "adapter" if name.endswith("arith") else "model"
            assert weights_fingerprint(name, kind) == directory_fingerprint(packaged_path(name))
