"""``train-tiny --optimizer``: which weights Muon takes, a real Muon run, resume, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

from chainlab.cli import main
from chainlab.models.training_optimizer import CombinedOptimizer, build_optimizer, muon_parameters

SMALL = ["--examples", "48", "--layers", "1", "--hidden-size", "32", "--batch-tokens", "1024",
         "--threads", "1"]


def small_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=32, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg)


def test_muon_takes_the_block_matrices_and_adamw_the_rest():
    model = small_llama()
    opt = build_optimizer(model, "muon", 1e-3, 0.1)
    assert isinstance(opt, CombinedOptimizer)
    muon, adamw = opt.optimizers
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    in_muon = {names[id(p)] for g in muon.param_groups for p in g["params"]}
    in_adamw = {names[id(p)] for g in adamw.param_groups for p in g["params"]}
    assert in_muon.isdisjoint(in_adamw) and in_muon | in_adamw == set(names.values())  # each once
    assert len(in_muon) == 2 * 7  # q, k, v, o, gate, up, down of each block
    assert all(".layers." in n and n.endswith("proj.weight") for n in in_muon)
    assert "model.embed_tokens.weight" in in_adamw  # tied to lm_head: AdamW, with weight decay
    decayed = {names[id(p)] for g in adamw.param_groups if g["weight_decay"] for p in g["params"]}
    assert decayed == {"model.embed_tokens.weight"}  # norms without decay
    assert {id(p) for p in model.parameters() if id(p) in muon_parameters(model)} == {
        id(p) for g in muon.param_groups for p in g["params"]}
    # one schedule drives both: param_groups lists every group
    for g in opt.param_groups:
        g["lr"] = 5e-4
    assert [g["lr"] for o in opt.optimizers for g in o.param_groups] == [5e-4] * 3


def test_combined_optimizer_steps_and_round_trips_its_state():
    model = small_llama()
    opt = build_optimizer(model, "muon", 1e-2, 0.1)
    ids = torch.randint(0, 64, (2, 8))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model(ids, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert all(not p.equal(before[n]) for n, p in model.named_parameters() if "proj" in n or "embed" in n)
    state = opt.state_dict()
    again = build_optimizer(model, "muon", 1e-2, 0.1)
    again.load_state_dict(state)
    assert again.state_dict()["optimizers"][0]["state"][0]["momentum_buffer"].equal(
        state["optimizers"][0]["state"][0]["momentum_buffer"])
    with pytest.raises(ValueError, match="another optimizer"):
        again.load_state_dict(build_optimizer(model, "adamw", 1e-2, 0.1).state_dict())
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        build_optimizer(model, "sgd", 1e-2, 0.1)


def test_a_muon_run_learns_logs_its_optimizer_and_resumes_bit_for_bit(tmp_path):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert main(["train-tiny", "--out", str(full), *SMALL, "--optimizer", "muon"]) == 0
    log = json.loads((full / "training_log.json").read_text())
    assert log["config"]["optimizer"] == "muon"
    losses = [h["loss"] for h in log["history"]]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    data = next(full.glob("data-*.jsonl"))
    args = ["train-tiny", "--out", str(resumed), "--data", str(data), *SMALL, "--optimizer", "muon",
            "--checkpoint-every", "1"]
    assert main([*args, "--stop-after", "2"]) == 130
    assert main(args) == 0
    a, b = load_file(resumed / "model.safetensors"), load_file(full / "model.safetensors")
    assert [k for k in a if not a[k].equal(b[k])] == []
    assert json.loads((resumed / "training_log.json").read_text())["history"] == log["history"]


def test_resuming_with_another_optimizer_names_the_fix(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train-tiny", "--out", str(out), *SMALL, "--checkpoint-every", "1"]
    assert main([*args, "--stop-after", "1"]) == 130
    capsys.readouterr()
    assert main([*args, "--optimizer", "muon"]) == 2
    err = capsys.readouterr().err
    assert "another --optimizer than 'muon'" in err and "--no-resume" in err
    assert main([*args, "--optimizer", "muon", "--no-resume"]) == 0
    with pytest.raises(SystemExit):
        main(["train-tiny", "--out", str(tmp_path / "x"), *SMALL, "--optimizer", "sgd"])
    assert "invalid choice: 'sgd'" in capsys.readouterr().err


def test_newton_schulz_is_torchs_iteration_and_float32_muon_takes_its_steps():
    """Without bfloat16 instructions Muon orthogonalises in float32 (torch emulates bfloat16 there,
    about 80x slower a step): the same iteration as torch's, the same update up to bfloat16's
    rounding, the same state."""
    from torch.optim._muon import DEFAULT_A, DEFAULT_B, DEFAULT_C, EPS, _zeropower_via_newtonschulz

    from chainlab.models.training_optimizer import newton_schulz

    torch.manual_seed(0)
    coeffs = (DEFAULT_A, DEFAULT_B, DEFAULT_C)
    for shape in ((16, 48), (48, 16)):
        g = torch.randn(shape)
        kept = g.clone()
        assert newton_schulz(g, coeffs, 5, EPS, torch.bfloat16).equal(_zeropower_via_newtonschulz(g, coeffs, 5, EPS))
        assert g.equal(kept)  # the gradient is left as it was
        f32 = newton_schulz(g, coeffs, 5, EPS, torch.float32)
        assert f32.dtype == torch.float32 and f32.shape == g.shape

    native, emulated = small_llama(), small_llama()
    ids = torch.randint(0, 64, (2, 8))
    opts = {m: build_optimizer(m, "muon", 1e-2, 0.1, native_bf16=flag) for m, flag in ((native, True), (emulated, False))}
    assert type(opts[native].optimizers[0]) is torch.optim.Muon
    assert type(opts[emulated].optimizers[0]).__name__ == "Float32Muon"
    for model, opt in opts.items():
        for _ in range(2):
            model(ids, labels=ids).loss.backward()
            opt.step()
            opt.zero_grad()
    for (name, a), b in zip(native.named_parameters(), emulated.parameters(), strict=True):
        if "proj" in name:  # the Muon matrices: same steps within bfloat16's rounding
            assert not a.equal(b) and torch.allclose(a, b, atol=2e-3), name
    # its state is torch Muon's: a checkpoint resumes on either kind of CPU
    again = build_optimizer(native, "muon", 1e-2, 0.1, native_bf16=True)
    again.load_state_dict(opts[emulated].state_dict())
