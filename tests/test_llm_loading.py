"""load_llm: local dirs, packaged names, GPTQ checkpoints, LoRA adapters, and clear errors."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch

from chainlab.llms import (
    AdapterMismatchError,
    LocalLLM,
    MissingDependencyError,
    ModelNotFoundError,
    load_llm,
)

PROMPTS = ["Use the numbers 4 7 8 8", "hello world", "Question: what is 3 times 8?"]



@pytest.fixture(scope="module")
def lora_llm(tiny_model_dir, tiny_lora_dir):
    return load_llm(tiny_model_dir, adapter=tiny_lora_dir, device="cpu", max_new_tokens=12)


def test_load_local_dir_on_cpu(tiny_llm, tiny_model_dir):
    assert isinstance(tiny_llm, LocalLLM)
    assert tiny_llm.model.device.type == "cpu"
    assert tiny_llm.model.dtype == torch.float32
    assert not tiny_llm.model.training
    assert tiny_llm.tokenizer.pad_token_id is not None
    assert tiny_llm.model_id == str(tiny_model_dir)


def test_generation_defaults_and_unknown_options(tiny_model_dir):
    llm = load_llm(tiny_model_dir, max_new_tokens=5, temperature=0.7, n=2, seed=3)
    assert (llm.max_new_tokens, llm.temperature, llm.n, llm.seed) == (5, 0.7, 2, 3)
    with pytest.raises(TypeError, match="unknown option"):
        load_llm(tiny_model_dir, max_new_tokenz=5)
    with pytest.raises(ValueError, match="temperature"):
        load_llm(tiny_model_dir, temperature=-1)


def test_packaged_name_resolves_through_registry(monkeypatch, tiny_model_dir):
    import chainlab.llms.sources as sources

    monkeypatch.setattr(
        sources, "packaged_path", lambda name: tiny_model_dir if name == "chainlab-tiny" else None
    )
    llm = load_llm("chainlab-tiny", max_new_tokens=4)
    assert llm.model_id == "chainlab-tiny"
    assert isinstance(llm.invoke("hi"), str)


def test_missing_local_path_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_llm(str(missing))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_llm(missing)


def test_hub_id_offline_says_network_is_needed(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        load_llm("chainlab-test/definitely-not-cached-model")
    msg = str(err.value)
    assert "chainlab-test/definitely-not-cached-model" in msg
    assert "network" in msg and "HF_HUB_OFFLINE" in msg


def test_dir_without_config_and_adapter_as_model(tmp_path, tiny_lora_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="config.json"):
        load_llm(tmp_path / "empty")
    with pytest.raises(ModelNotFoundError, match="adapter="):
        load_llm(tiny_lora_dir)


# ----------------------------------------------------------------------------------- GPTQ


def test_gptq_checkpoint_loads_on_cpu_and_generates(tiny_gptq_dir):
    from gptqmodel.nn_modules.qlinear import BaseQuantLinear

    cfg = json.loads((tiny_gptq_dir / "config.json").read_text())
    assert cfg["quantization_config"]["quant_method"] == "gptq"
    assert cfg["quantization_config"]["bits"] == 4
    llm = load_llm(tiny_gptq_dir, device="cpu", max_new_tokens=8)
    layer = llm.model.model.layers[0]
    quantized = [m for m in layer.modules() if isinstance(m, BaseQuantLinear)]
    assert len(quantized) == 7  # q, k, v, o, gate, up, down are all packed 4-bit modules
    assert not any(isinstance(m, torch.nn.Linear) for m in layer.modules())
    result = llm.generate(PROMPTS, n=2, temperature=1.0, seed=0)
    assert [len(g) for g in result.generations] == [2, 2, 2]
    assert result.llm_output["token_usage"]["calls"] == 1
    assert isinstance(llm.invoke(PROMPTS[0]), str)


def test_gptq_without_gptqmodel_names_the_install(monkeypatch, tiny_gptq_dir):
    monkeypatch.setitem(sys.modules, "gptqmodel", None)  # makes `import gptqmodel` fail
    with pytest.raises(MissingDependencyError) as err:
        load_llm(tiny_gptq_dir)
    assert "pip install gptqmodel==7.6.0 optimum" in str(err.value)
    assert "GPTQ" in str(err.value)


# ----------------------------------------------------------------------------------- LoRA


def test_adapter_changes_the_output(tiny_llm, lora_llm):
    from peft import PeftModel

    assert isinstance(lora_llm.model, PeftModel)
    base = tiny_llm.batch(PROMPTS)
    adapted = lora_llm.batch(PROMPTS)
    assert base != adapted


def test_merged_adapter_equals_unmerged(tiny_model_dir, tiny_lora_dir, lora_llm):
    from peft import PeftModel

    merged = load_llm(tiny_model_dir, adapter=tiny_lora_dir, merge_adapter=True, max_new_tokens=12)
    assert not isinstance(merged.model, PeftModel)
    assert merged.batch(PROMPTS) == lora_llm.batch(PROMPTS)


def test_adapter_tokenizer_is_used_when_present(tiny_model_dir, tiny_lora_dir, tmp_path):
    from transformers import AutoTokenizer

    adapter = tmp_path / "adapter-with-tokenizer"
    shutil.copytree(tiny_lora_dir, adapter)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.model_max_length = 123  # marks this copy
    tok.save_pretrained(adapter)
    llm = load_llm(tiny_model_dir, adapter=adapter, max_new_tokens=2)
    assert llm.tokenizer.model_max_length == 123


def test_adapter_for_another_base_is_a_clear_error(tiny_model_dir, tiny_lora_dir, tmp_path):
    from chainlab.llms.tiny_random import build_tiny_llama

    other = build_tiny_llama(tmp_path / "wider", hidden_size=96)
    with pytest.raises(AdapterMismatchError) as err:
        load_llm(other, adapter=tiny_lora_dir)
    msg = str(err.value)
    assert "in_features=64" in msg and "96" in msg
    assert str(tiny_model_dir) in msg  # the base it was trained on
    assert "size mismatch" not in msg


def test_adapter_shape_check_runs_even_if_the_name_matches(tiny_lora_dir, tmp_path):
    from chainlab.llms.tiny_random import build_tiny_llama

    other = build_tiny_llama(tmp_path / "deeper" / "model", num_layers=1, hidden_size=32)
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_lora_dir, adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(other)  # lies about its base
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(AdapterMismatchError, match="no such layer|in_features"):
        load_llm(other, adapter=adapter)


def test_adapter_on_same_shapes_other_name_only_warns(tiny_model_dir, tiny_lora_dir, tmp_path):
    copy = tmp_path / "renamed-copy"
    shutil.copytree(tiny_model_dir, copy)
    with pytest.warns(UserWarning, match="records base model"):
        llm = load_llm(copy, adapter=tiny_lora_dir, max_new_tokens=3)
    assert isinstance(llm.invoke("hi"), str)


def test_adapter_dir_must_be_an_adapter(tiny_model_dir, tmp_path):
    with pytest.raises(ModelNotFoundError, match="adapter_config.json"):
        load_llm(tiny_model_dir, adapter=tiny_model_dir)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_llm(tiny_model_dir, adapter=tmp_path / "nope")


def test_merge_adapter_into_gptq_is_refused(tiny_gptq_dir, tiny_lora_dir):
    with pytest.raises(ValueError, match="merge_adapter"):
        load_llm(tiny_gptq_dir, adapter=tiny_lora_dir, merge_adapter=True)


def test_adapter_on_gptq_model_runs_unmerged(tiny_gptq_dir, tiny_lora_dir):
    from peft import PeftModel

    llm = load_llm(tiny_gptq_dir, adapter=tiny_lora_dir, max_new_tokens=8)  # trained on the fp32 base
    assert isinstance(llm.model, PeftModel)
    plain = load_llm(tiny_gptq_dir, max_new_tokens=8)
    assert llm.batch(PROMPTS) != plain.batch(PROMPTS)
