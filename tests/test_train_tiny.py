"""``chainlab train-tiny``: a real (very small) run, refusal to overwrite, bad data, resume."""

import json

import pytest
from safetensors.torch import load_file

from chainlab.cli import main

SMALL = ["--examples", "48", "--layers", "1", "--hidden-size", "32", "--batch-tokens", "1024",
         "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "model"
    assert main(["train-tiny", "--out", str(out), *SMALL]) == 0
    return out


def test_outputs(trained):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "loss_curve.png",
                 "training_log.json", "chat_template.jinja"):
        assert (trained / name).exists(), name
    log = json.loads((trained / "training_log.json").read_text())
    assert log["steps"] == len(log["history"]) > 0
    assert log["deterministic"] is True  # a rerun repeats it bit for bit; the model card says so
    assert not (trained / "checkpoint").exists()
    assert (trained / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refuses_to_overwrite(trained, capsys):
    assert main(["train-tiny", "--out", str(trained), *SMALL]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_missing_and_malformed_data(tmp_path, capsys):
    assert main(["train-tiny", "--out", str(tmp_path / "a"), "--data", str(tmp_path / "nope.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "spans": []}\n{"oops": 1}\n')
    assert main(["train-tiny", "--out", str(tmp_path / "b"), "--data", str(bad), *SMALL]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_resume_after_interruption_matches_uninterrupted(tmp_path, trained):
    out = tmp_path / "resumed"
    data = next(trained.glob("data-*.jsonl"))
    args = ["train-tiny", "--out", str(out), "--data", str(data), *SMALL, "--checkpoint-every", "1"]
    steps = json.loads((trained / "training_log.json").read_text())["steps"]
    assert steps >= 3
    assert main([*args, "--stop-after", "2"]) == 130  # like Ctrl-C
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert main(args) == 0
    a, b = load_file(out / "model.safetensors"), load_file(trained / "model.safetensors")
    assert a.keys() == b.keys()
    assert [k for k in a if not a[k].equal(b[k])] == []  # bit for bit (deterministic kernels)
    log, uninterrupted = (json.loads((d / "training_log.json").read_text()) for d in (out, trained))
    assert log["history"] == uninterrupted["history"]


def test_init_from_continues_a_model_with_its_tokenizer(tmp_path, trained, capsys):
    out = tmp_path / "continued"
    data = next(trained.glob("data-*.jsonl"))
    args = ["train-tiny", "--out", str(out), "--data", str(data), "--threads", "1",
            "--batch-tokens", "1024", "--init-from", str(trained)]
    assert main(args) == 0
    log = json.loads((out / "training_log.json").read_text())
    first = json.loads((trained / "training_log.json").read_text())
    assert log["config"]["init_from"] == str(trained)
    assert log["config"]["hidden_size"] == 32 and log["config"]["layers"] == 1  # the model's own
    assert (out / "tokenizer.json").read_text() == (trained / "tokenizer.json").read_text()
    assert json.loads((out / "tokenizer_config.json").read_text()) == json.loads(
        (trained / "tokenizer_config.json").read_text())  # no loading options (local_files_only) saved
    # same data, same batch order: every step starts from where the first run's weights ended
    pairs = list(zip(log["history"], first["history"], strict=True))
    assert all(a["loss"] < b["loss"] for a, b in pairs)
    assert main(["train-tiny", "--out", str(tmp_path / "x"), "--init-from", str(tmp_path / "nope")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_widen_continues_a_wider_copy_of_the_model(tmp_path, trained, capsys):
    """--widen: the first step's loss is the unwidened model's (same function), the run trains the
    wider model, and an interrupted widened run resumes from its checkpoint."""
    data = next(trained.glob("data-*.jsonl"))
    base = ["--data", str(data), "--threads", "1", "--batch-tokens", "1024", "--init-from", str(trained)]
    assert main(["train-tiny", "--out", str(tmp_path / "same"), *base]) == 0
    out = tmp_path / "wide"
    args = ["train-tiny", "--out", str(out), *base, "--widen", "48:800", "--checkpoint-every", "1"]
    assert main([*args, "--stop-after", "2"]) == 130
    assert main(args) == 0
    log = json.loads((out / "training_log.json").read_text())
    same = json.loads((tmp_path / "same" / "training_log.json").read_text())
    assert log["config"]["widen"] == [48, 800]
    assert log["config"]["hidden_size"] == 48 and log["config"]["intermediate_size"] == 800
    assert log["parameters"] > same["parameters"]
    assert abs(log["history"][0]["loss"] - same["history"][0]["loss"]) < 1e-3
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_size"] == 48 and config["num_attention_heads"] == 12  # heads of 4, as before
    assert load_file(out / "model.safetensors")["model.embed_tokens.weight"].shape[1] == 48
    capsys.readouterr()
    assert main(["train-tiny", "--out", str(tmp_path / "x"), "--widen", "48:800", *SMALL]) == 2
    assert "--init-from" in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "x"), *base, "--widen", "50:800"]) == 2
    assert "multiple of the model's head size 4" in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "x"), *base, "--widen", "16:800"]) == 2
    assert "cannot shrink" in capsys.readouterr().err


def test_answer_loss_weights_the_mark_token(trained):
    import torch
    from transformers import AutoTokenizer

    from chainlab.models.train_tiny import answer_loss, loss_token_weights

    tok = AutoTokenizer.from_pretrained(trained)
    mark = tok("!", add_special_tokens=False)["input_ids"][0]
    other = tok("7", add_special_tokens=False)["input_ids"][0]
    logits = torch.randn(1, 4, len(tok))
    labels = torch.tensor([[-100, other, mark, -100]])
    plain = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, 1:3])
    assert loss_token_weights(tok, 1.0) is None
    assert torch.allclose(answer_loss(logits, labels), plain)
    ce = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, 1:3], reduction="none")
    weights = loss_token_weights(tok, 4.0)
    assert weights[mark] == 4.0 and weights.sum() == len(tok) + 3
    assert torch.allclose(answer_loss(logits, labels, weights), (ce[0] + 4 * ce[1]) / 5)


def test_result_spans_mark_the_tokens_a_judgment_turns_on(trained):
    """``--result-weight`` weighs the results of the worked lines and the yes/no/verdict words,
    inside the answers only; the labels stay those of ``encode``."""
    from transformers import AutoTokenizer

    from chainlab.models.tiny_data import Example, judge_answer
    from chainlab.models.train_tiny import encode, encode_weighted, result_spans

    answer = judge_answer((2, 3, 8, 14), "(14 - 2) * (8 / 3)")
    ex = Example("judge", "Say x = 5 twice.", [("Check 1 = 1.", answer)])
    text, spans = ex.text(), ex.answer_spans()
    found = [text[a:b] for a, b in result_spans(text, spans)]
    assert found == ["12", "8/3", "32", "yes", "no", "incorrect"]  # nothing from the prompt's ' = '
    tok = AutoTokenizer.from_pretrained(trained)
    rec = {"text": text, "spans": spans}
    (ids, labels, none), = encode_weighted([rec], tok)
    assert none is None and [(ids, labels)] == encode([rec], tok)
    (ids3, labels3, weights), = encode_weighted([rec], tok, 3.0)
    assert (ids3, labels3) == (ids, labels) and set(weights) == {1.0, 3.0}
    heavy = tok.decode([i for i, w in zip(ids, weights, strict=True) if w == 3.0])
    assert all(piece in heavy for piece in found) and "5" not in heavy
    assert all(lab != -100 for lab, w in zip(labels, weights, strict=True) if w == 3.0)


def test_tokenize_all_equals_one_text_at_a_time(trained, monkeypatch):
    """The batch encoder gives each text's ids and offsets exactly as a call per text, and leaves
    TOKENIZERS_PARALLELISM as it found it (false when it was unset)."""
    import os

    from transformers import AutoTokenizer

    from chainlab.models.tiny_data import iter_examples
    from chainlab.models.train_tiny import tokenize_all

    tok = AutoTokenizer.from_pretrained(trained)
    texts = [ex.text() for ex in iter_examples(40, seed=9)] + ["Persona: café ½ → 24", ""]
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    got = tokenize_all(tok, texts, chunk=16)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    for text, (ids, offsets) in zip(texts, got, strict=True):
        enc = tok(text, return_offsets_mapping=True, add_special_tokens=False)
        assert ids == enc["input_ids"] and [tuple(o) for o in offsets] == [tuple(o) for o in enc["offset_mapping"]]
    monkeypatch.delenv("TOKENIZERS_PARALLELISM")
    tokenize_all(tok, texts[:2])
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_position_weights_weigh_each_target():
    import torch

    from chainlab.models.train_tiny import answer_positions, target_weights, token_loss

    logits = torch.randn(2, 5, 11)
    labels = torch.tensor([[-100, 3, 4, -100, -100], [-100, -100, 5, 6, 7]])
    weights = torch.tensor([[1.0, 1.0, 3.0, 1.0, 1.0], [1.0, 1.0, 1.0, 2.0, 1.0]])
    hidden, target = answer_positions(logits, labels)
    pos = target_weights(weights, labels)
    assert target.tolist() == [3, 4, 5, 6, 7] and pos.tolist() == [1.0, 3.0, 1.0, 2.0, 1.0]
    ce = torch.nn.functional.cross_entropy(hidden, target, reduction="none")
    assert torch.allclose(token_loss(hidden, target, None, pos), (ce * pos).sum() / pos.sum())
    assert target_weights(None, labels) is None
    assert torch.allclose(token_loss(hidden, target, None, torch.ones(5)), ce.mean())
    ids = torch.ones(11)
    ids[4] = 4.0  # a token-id weight and a position weight multiply
    both = ce * pos * ids[target]
    assert torch.allclose(token_loss(hidden, target, ids, pos), both.sum() / (pos * ids[target]).sum())


def test_pad_batch_pads_ids_labels_mask_and_weights():
    """One padded batch of the picked records, in the order picked, from plain and weighted tuples."""
    from chainlab.models.train_tiny import pad_batch

    plain = [([5, 6, 7], [-100, 6, 7]), ([8], [-100]), ([9, 10], [-100, 10])]
    ids, att, lab, wts = pad_batch(plain, [2, 0], pad=1)
    assert ids.tolist() == [[9, 10, 1], [5, 6, 7]]
    assert att.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert lab.tolist() == [[-100, 10, -100], [-100, 6, 7]]
    assert wts is None
    unweighted = [(x, y, None) for x, y in plain]
    assert pad_batch(unweighted, [1, 2], pad=0)[3] is None
    weighted = [(x, y, [1.0] * (len(x) - 1) + [3.0]) for x, y in plain]
    ids2, att2, lab2, wts2 = pad_batch(weighted, [1, 0], pad=0)
    assert ids2.tolist() == [[8, 0, 0], [5, 6, 7]] and lab2.tolist() == [[-100, -100, -100], [-100, 6, 7]]
    assert wts2.tolist() == [[3.0, 1.0, 1.0], [1.0, 1.0, 3.0]]


def test_wide_share_and_mark_weight_options(tmp_path, capsys):
    out = tmp_path / "wide"
    args = ["train-tiny", "--out", str(out), *SMALL, "--wide-share", "1", "--mark-weight", "4",
            "--result-weight", "3"]
    assert main(args) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["config"]["wide_share"] == 1.0 and log["config"]["mark_weight"] == 4.0
    assert log["config"]["result_weight"] == 3.0
    assert (out / "data-s0-n48-w1.jsonl").exists()  # not the default-recipe data file
    assert main(["train-tiny", "--out", str(tmp_path / "y"), "--mark-weight", "0"]) == 2
    assert "--mark-weight" in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "y"), "--result-weight", "-1"]) == 2
    assert "--result-weight must be > 0" in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "z"), "--wide-share", "1.5"]) == 2
    assert "--wide-share" in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "h"), "--heads", "7"]) == 2
    assert "--heads" in capsys.readouterr().err


def test_curriculum_late_phase(tmp_path, capsys):
    """--late-share: a second data phase (own seed, wide states) trained last; the mark weight
    applies from the step the late phase starts."""
    out = tmp_path / "curr"
    args = ["train-tiny", "--out", str(out), *SMALL, "--late-share", "0.25", "--mark-weight", "4"]
    assert main(args) == 0
    assert (out / "data-s0-n36.jsonl").exists() and (out / "data-s1-n12-w1.jsonl").exists()
    log = json.loads((out / "training_log.json").read_text())
    cfg = log["config"]
    assert cfg["late_share"] == 0.25 and cfg["late_wide_share"] == 1.0 and log["examples"] == 48
    assert 0 < cfg["late_from_step"] < log["steps"]

    from chainlab.models.train_tiny import DEFAULTS, data_phases

    phases = data_phases(dict(DEFAULTS, examples=100000, late_share=0.3), tmp_path)
    assert [(p.name, n, s, w) for p, n, s, w in phases] == [
        ("data-s0-n70000.jsonl", 70000, 0, 0.5), ("data-s1-n30000-w1.jsonl", 30000, 1, 1.0)]
    assert [p.name for p, *_ in data_phases(dict(DEFAULTS), tmp_path)] == ["data-s0-n100000.jsonl"]

    data = str(out / "data-s0-n36.jsonl")
    for bad in (["--late-share", "1"], ["--late-wide-share", "2"], ["--late-share", "0.2", "--data", data]):
        assert main(["train-tiny", "--out", str(tmp_path / "bad"), *bad]) == 2
        assert "--late" in capsys.readouterr().err


def test_mix_option(tmp_path, capsys):
    from chainlab.models.train_tiny import DEFAULTS, data_phases, format_mix, parse_mix

    out = tmp_path / "mix"
    assert main(["train-tiny", "--out", str(out), *SMALL, "--mix", "propose=1,judge=0"]) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["config"]["mix"] == {"propose": 1.0, "judge": 0.0}
    (data,) = out.glob("data-s0-n48-m*.jsonl")
    assert {json.loads(line)["skill"] for line in data.read_text().splitlines()} == {"propose"}
    assert parse_mix(format_mix(DEFAULTS["mix"])) == DEFAULTS["mix"]
    assert parse_mix("judge=0.8,calc=0.2") == {"judge": 0.8, "calc": 0.2}  # the drill is opt-in
    assert data_phases(dict(DEFAULTS, mix=parse_mix("value=1")), tmp_path)[0][0] != data_phases(
        dict(DEFAULTS), tmp_path)[0][0]
    for bad, words in (("tot=1", "unknown skill"), ("value=0", "every weight is 0"),
                       ("value=x", "NAME=WEIGHT"), ("value=-1", "negative"), ("", "empty")):
        assert main(["train-tiny", "--out", str(tmp_path / "bad"), "--mix", bad]) == 2
        assert words in capsys.readouterr().err
    assert main(["train-tiny", "--out", str(tmp_path / "bad"), "--mix", "value=1", "--data", str(data)]) == 2
    assert "drop --data" in capsys.readouterr().err


def test_value_format_option(tmp_path, capsys):
    from chainlab.models.train_tiny import DEFAULTS, data_phases

    out = tmp_path / "pairs"
    assert main(["train-tiny", "--out", str(out), *SMALL, "--value-format", "pairs"]) == 0
    assert json.loads((out / "training_log.json").read_text())["config"]["value_format"] == "pairs"
    (data,) = out.glob("data-s0-n48-vpairs.jsonl")
    values = [json.loads(line) for line in data.read_text().splitlines()]
    values = [r["text"] for r in values if r["skill"] == "value"]
    assert values and all("need" not in t and " -> " in t for t in values)
    assert data_phases(dict(DEFAULTS, value_format="pairs"), tmp_path)[0][0].name == "data-s0-n100000-vpairs.jsonl"
    assert main(["train-tiny", "--out", str(tmp_path / "bad"), "--value-format", "pairs", "--data", str(data)]) == 2
    assert "drop --data" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "tag", "bad"),
    [
        ("judge_other_share", 0.5, "j0.5", "1.5"),
        ("judge_correct_share", 0.3, "jc0.3", "-0.1"),
        ("judge_low_share", 0.3, "jl0.3", "2"),
    ],
)
def test_judge_share_options(tmp_path, capsys, key, value, tag, bad):
    """``--judge-other-share`` / ``--judge-correct-share`` / ``--judge-low-share``: logged, tagged in the data file's name,
    refused outside 0..1 and with a given ``--data`` file."""
    from chainlab.models.train_tiny import DEFAULTS, data_phases

    flag = "--" + key.replace("_", "-")
    out = tmp_path / "judge"
    assert main(["train-tiny", "--out", str(out), *SMALL, flag, str(value)]) == 0
    assert json.loads((out / "training_log.json").read_text())["config"][key] == value
    (data,) = out.glob(f"data-s0-n48-{tag}.jsonl")
    assert data_phases(dict(DEFAULTS, **{key: value}), tmp_path)[0][0].name == f"data-s0-n100000-{tag}.jsonl"
    for args in ([flag, bad], [flag, str(value), "--data", str(data)]):
        assert main(["train-tiny", "--out", str(tmp_path / "bad"), *args]) == 2
        assert flag in capsys.readouterr().err


def test_judge_small_share_option(tmp_path, capsys):
    from chainlab.models.train_tiny import DEFAULTS, data_phases

    out = tmp_path / "small"
    assert main(["train-tiny", "--out", str(out), *SMALL, "--judge-small-share", "0.5"]) == 0
    assert json.loads((out / "training_log.json").read_text())["config"]["judge_small_share"] == 0.5
    (data,) = out.glob("data-s0-n48-js0.5.jsonl")
    cfg = dict(DEFAULTS, judge_other_share=0.5, judge_small_share=0.5)
    assert data_phases(cfg, tmp_path)[0][0].name == "data-s0-n100000-j0.5-js0.5.jsonl"
    for bad in (["--judge-small-share", "2"], ["--judge-small-share", "0.5", "--data", str(data)]):
        assert main(["train-tiny", "--out", str(tmp_path / "bad"), *bad]) == 2
        assert "--judge-small-share" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "tag"),
    [
        ("propose_format", "grouped", "pgrouped"),
        ("judge_format", "numbers-first", "Jnumbers-first"),
        ("cot_format", "expand", "cexpand"),
    ],
)
def test_answer_format_options(tmp_path, capsys, key, value, tag):
    """``--propose-format`` / ``--judge-format`` / ``--cot-format``: logged in the config, tagged in the data file's
    name, and refused with a given ``--data`` file (they shape generated data)."""
    from chainlab.models.train_tiny import DEFAULTS, data_phases

    flag = "--" + key.replace("_", "-")
    out = tmp_path / "run"
    assert main(["train-tiny", "--out", str(out), *SMALL, flag, value]) == 0
    assert json.loads((out / "training_log.json").read_text())["config"][key] == value
    (data,) = out.glob(f"data-s0-n48-{tag}.jsonl")
    assert data_phases(dict(DEFAULTS, **{key: value}), tmp_path)[0][0].name == f"data-s0-n100000-{tag}.jsonl"
    assert main(["train-tiny", "--out", str(tmp_path / "bad"), flag, value, "--data", str(data)]) == 2
    assert flag in capsys.readouterr().err


def test_fraction_tokens_keep_frequent_fractions_whole(tmp_path, trained, capsys):
    from chainlab.models.tiny_data import iter_examples
    from chainlab.models.train_tiny import build_tokenizer

    texts = [e.text() for e in iter_examples(300, seed=1, mix={"judge": 1.0})]
    pieces = {}
    for whole in (False, True):
        tok = build_tokenizer(texts, 2048, fraction_tokens=whole)
        ids = tok("7 / 4 = 7/4\n2 - 7/4 = 1/4", add_special_tokens=False).input_ids
        pieces[whole] = [tok.decode([i]) for i in ids]
        assert tok.decode(ids) == "7 / 4 = 7/4\n2 - 7/4 = 1/4"  # lossless either way
    assert pieces[False][4:7] == [" 7", "/", "4"]  # the default splits a fraction in three
    assert " 7/4" in pieces[True] and " 1/4" in pieces[True] and " /" in pieces[True]
    # the option is logged, and refused where the tokenizer comes from the init model
    out = tmp_path / "frac"
    assert main(["train-tiny", "--out", str(out), *SMALL, "--fraction-tokens"]) == 0
    assert json.loads((out / "training_log.json").read_text())["config"]["fraction_tokens"] is True
    assert main(["train-tiny", "--out", str(tmp_path / "bad"), *SMALL, "--fraction-tokens",
                 "--init-from", str(trained)]) == 2
    assert "--fraction-tokens" in capsys.readouterr().err


def test_heads_and_intermediate_size_options(tmp_path, capsys):
    from chainlab.models.model_card import recipe_flags

    out = tmp_path / "heads"
    args = ["train-tiny", "--out", str(out), *SMALL, "--heads", "2", "--intermediate-size", "48"]
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["num_attention_heads"] == 2 and config["head_dim"] == 16
    assert config["intermediate_size"] == 48
    # the model card's command names the architecture of a run from scratch
    flags = recipe_flags(json.loads((out / "training_log.json").read_text())["config"])
    assert "--hidden-size 32" in flags and "--intermediate-size 48" in flags and "--heads 2" in flags
    assert main(["train-tiny", "--out", str(tmp_path / "i"), "--intermediate-size", "0"]) == 2
    assert "--intermediate-size must be >= 1" in capsys.readouterr().err


def test_answer_positions_give_the_full_logits_loss(trained):
    """Training projects only the answer positions to the vocabulary; the loss is the same."""
    import torch
    from transformers import LlamaForCausalLM

    from chainlab.models.train_tiny import answer_loss, answer_positions, token_loss

    model = LlamaForCausalLM.from_pretrained(trained, dtype=torch.float32)
    ids = torch.randint(3, model.config.vocab_size, (2, 9))
    labels = torch.full_like(ids, -100)
    labels[0, 4:7], labels[1, 2:9] = ids[0, 4:7], ids[1, 2:9]
    weights = torch.ones(model.config.vocab_size)
    weights[ids[1, 5]] = 4.0
    with torch.no_grad():
        full = answer_loss(model(input_ids=ids).logits, labels, weights)
        hidden, target = answer_positions(model.model(input_ids=ids).last_hidden_state, labels)
        assert hidden.shape == (10, model.config.hidden_size) and target.tolist() == [
            *ids[0, 4:7].tolist(), *ids[1, 2:9].tolist()]
        assert torch.allclose(token_loss(model.lm_head(hidden), target, weights), full, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flag", "key", "rel", "abs_"),
    [(["--compile"], "compiled", 1e-3, 1e-4), (["--bf16", "--bf16-anyway"], "bf16", 0.02, 1e-3)],
)
def test_speed_option_trains_like_the_default(tmp_path, trained, flag, key, rel, abs_):
    """``--compile`` (torch.compile with dynamic shapes) and ``--bf16`` (the forward pass under
    bfloat16 autocast; ``--bf16-anyway`` so it runs on CPUs without bfloat16 instructions too)
    follow the default run's losses (float rounding / bfloat16 rounding), save the same dtypes
    and say in the log how they ran."""
    data = next(trained.glob("data-*.jsonl"))
    out = tmp_path / key
    assert main(["train-tiny", "--out", str(out), "--data", str(data), *SMALL, *flag]) == 0
    log = json.loads((out / "training_log.json").read_text())
    default = json.loads((trained / "training_log.json").read_text())
    assert log[key] is True and default[key] is False
    pairs = list(zip(log["history"], default["history"], strict=True))
    assert all(abs(a["loss"] - b["loss"]) <= rel * b["loss"] + abs_ for a, b in pairs), pairs
    dtypes = {t.dtype for t in load_file(out / "model.safetensors").values()}
    assert dtypes == {t.dtype for t in load_file(trained / "model.safetensors").values()}



@pytest.mark.slow
def test_a_compiled_run_on_two_threads_repeats_bit_for_bit(tmp_path, trained):
    """``torch.compile``'s CPU kernels add some gradients up with atomic adds across threads, so
    without torch's deterministic algorithms two runs of this command differ after 4 steps (8 of
    the 11 tensors, session 46); ``train`` turns them on while it trains, and the float32 weights
    of the checkpoint repeat bit for bit."""
    data = next(trained.glob("data-*.jsonl"))
    weights = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["train-tiny", "--out", str(out), "--data", str(data), *SMALL[:-2], "--threads", "2", "--compile",
                "--checkpoint-every", "4", "--stop-after", "4"]
        assert main(args) == 130
        weights.append(load_file(out / "checkpoint" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert [k for k in weights[0] if not weights[0][k].equal(weights[1][k])] == []

@pytest.mark.parametrize("native", [False, True])
def test_bf16_auto_follows_the_cpu(tmp_path, trained, monkeypatch, native):
    """``--bf16 auto`` trains in bfloat16 where the CPU has it and in float32 elsewhere (where
    ``--bf16`` is refused), so one documented command runs on every CPU; the log says which."""
    from chainlab.models import train_tiny

    monkeypatch.setattr(train_tiny, "native_bf16", lambda: native)
    data = next(trained.glob("data-*.jsonl"))
    out = tmp_path / "auto"
    assert main(["train-tiny", "--out", str(out), "--data", str(data), *SMALL, "--bf16", "auto"]) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["bf16"] is native and log["bf16_flag"] == "auto"
    assert log["attention"] == ("eager" if native else "sdpa")  # torch's fused attention is slow in bf16
    if not native:  # float32: the default run's losses (to float rounding)
        default = json.loads((trained / "training_log.json").read_text())
        pairs = list(zip(log["history"], default["history"], strict=True))
        assert all(abs(a["loss"] - b["loss"]) <= 1e-3 * b["loss"] + 1e-4 for a, b in pairs), pairs


@pytest.mark.slow
def test_bf16_from_step_trains_float32_first(tmp_path, trained):
    """``--bf16 --bf16-from-step N``: the first N steps are the float32 run's steps (float32
    attention too), the steps after them run under bfloat16 autocast; the log records N."""
    data = next(trained.glob("data-*.jsonl"))
    out = tmp_path / "switch"
    flags = ["--bf16", "--bf16-anyway", "--bf16-from-step", "2"]
    assert main(["train-tiny", "--out", str(out), "--data", str(data), *SMALL, *flags]) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["bf16"] is True and log["bf16_from_step"] == 2
    default = json.loads((trained / "training_log.json").read_text())["history"]
    pairs = list(zip(log["history"], default, strict=True))
    assert len(pairs) > 2
    assert all(abs(a["loss"] - b["loss"]) <= 1e-3 * b["loss"] + 1e-4 for a, b in pairs[:2]), pairs
    assert all(abs(a["loss"] - b["loss"]) <= 0.02 * b["loss"] + 1e-3 for a, b in pairs[2:]), pairs
    assert any(a["loss"] != b["loss"] for a, b in pairs[2:]), "no step ran in bfloat16"


@pytest.mark.parametrize("flags", [["--bf16-from-step", "3"], ["--bf16", "--bf16-from-step", "-1"]])
def test_bf16_from_step_needs_bf16_and_a_step(tmp_path, capsys, flags):
    """``--bf16-from-step`` without ``--bf16`` (or with a negative step) is refused before any
    work, with the fix in the message."""
    assert main(["train-tiny", "--out", str(tmp_path / "m"), *SMALL, *flags]) == 2
    assert "--bf16-from-step" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_eager_attention_trains_like_sdpa_and_is_not_saved(tmp_path, trained):
    """``--attention eager`` (what ``--attention auto`` takes under bfloat16, where it is faster)
    computes the same function as the default ``sdpa``: the same losses to float rounding, padded
    batches included. It is a training setting only: the saved model loads with the default."""
    from transformers import AutoConfig

    data = next(trained.glob("data-*.jsonl"))
    out = tmp_path / "eager"
    assert main(["train-tiny", "--out", str(out), "--data", str(data), *SMALL, "--attention", "eager"]) == 0
    log = json.loads((out / "training_log.json").read_text())
    default = json.loads((trained / "training_log.json").read_text())
    assert (log["attention"], default["attention"]) == ("eager", "sdpa")
    pairs = list(zip(log["history"], default["history"], strict=True))
    assert all(abs(a["loss"] - b["loss"]) <= 1e-3 * b["loss"] + 1e-4 for a, b in pairs), pairs
    assert "attn" not in (out / "config.json").read_text()
    assert AutoConfig.from_pretrained(out)._attn_implementation != "eager"


def test_training_attention_choices():
    from chainlab.models.train_tiny import training_attention

    assert [training_attention("auto", b) for b in (True, False)] == ["eager", "sdpa"]
    assert training_attention("sdpa", True) == "sdpa" and training_attention("eager", False) == "eager"
    with pytest.raises(ValueError, match="choose one of auto, sdpa, eager"):
        training_attention("flash", True)


def test_bf16_is_refused_on_a_cpu_without_bfloat16(tmp_path, monkeypatch, capsys):
    """On a CPU that emulates bfloat16 (AVX2 only), ``--bf16`` would make training ~17x slower:
    it is refused before any work, naming the CPU and the ways out."""
    from chainlab.models import train_tiny

    monkeypatch.setattr(train_tiny, "native_bf16", lambda: False)
    out = tmp_path / "m"
    assert main(["train-tiny", "--out", str(out), *SMALL, "--bf16"]) == 2
    err = capsys.readouterr().err
    assert "no bfloat16 instructions" in err and "Drop --bf16" in err and "--bf16-anyway" in err
    assert not out.exists()



def test_install_tiny_ships_a_two_stage_run(tmp_path, trained, capsys):
    """``chainlab install-tiny --model RUN`` copies exactly the shipped files of a continued run
    into the weights directory and writes ``training_summary.json`` (both stages, no per-step
    history) for the model card; an incomplete build is refused before anything is copied."""
    from chainlab.llms import load_llm
    from chainlab.models.install_tiny import SHIPPED

    second = tmp_path / "second"
    data = next(trained.glob("data-*.jsonl"))
    assert main(["train-tiny", "--out", str(second), "--data", str(data), "--threads", "1",
                 "--batch-tokens", "1024", "--init-from", str(trained)]) == 0
    weights = tmp_path / "weights"
    assert main(["install-tiny", "--model", str(second), "--weights-dir", str(weights)]) == 0
    dest = weights / "chainlab-tiny"
    shipped = SHIPPED["model"][1]
    assert sorted(p.name for p in dest.iterdir()) == sorted([*shipped, "training_summary.json"])
    assert all((dest / f).read_bytes() == (second / f).read_bytes() for f in shipped)
    summary = json.loads((dest / "training_summary.json").read_text())
    assert "history" not in summary and "history" not in summary["base"]
    assert summary["steps"] == json.loads((second / "training_log.json").read_text())["steps"]
    assert summary["base"]["config"] == json.loads((trained / "training_log.json").read_text())["config"]
    assert isinstance(load_llm(str(dest), max_new_tokens=4).invoke("[INST] hi [/INST]"), str)  # it loads

    # a model run is not an adapter: refused, nothing copied; a missing directory is named
    assert main(["install-tiny", "--adapter", str(second), "--weights-dir", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "adapter_config.json" in err and "chainlab finetune" in err
    assert not (weights / "chainlab-tiny-arith").exists()
    assert main(["install-tiny", "--gptq", str(tmp_path / "nope"), "--weights-dir", str(weights)]) == 2
    assert "no such directory" in capsys.readouterr().err
    # with two builds, a bad second one stops the first from being installed too
    assert main(["install-tiny", "--model", str(second), "--adapter", str(second),
                 "--weights-dir", str(tmp_path / "w2")]) == 2
    assert "adapter_config.json" in capsys.readouterr().err and not (tmp_path / "w2").exists()
    assert main(["install-tiny"]) == 2
