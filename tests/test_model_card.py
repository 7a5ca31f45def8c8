"""``chainlab model-card``: the card's numbers come from the measurement files."""

import json

from chainlab.cli import main


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def _card(d, summary, skills):
    """The card ``model-card`` writes for training summary ``summary`` (written into ``d``)."""
    _write(d / "training_summary.json", summary)
    assert main(["model-card", "--dir", str(d), "--skills", skills]) == 0
    return (d / "MODEL_CARD.md").read_text()


def test_card_from_measurements(tmp_path, capsys):
    d = tmp_path / "m"
    d.mkdir()
    _write(d / "config.json", {"num_hidden_layers": 6, "hidden_size": 256, "num_attention_heads": 8,
                               "intermediate_size": 768, "vocab_size": 1500,
                               "max_position_embeddings": 1024})  # fmt: skip
    _write(d / "training_summary.json", {
        "parameters": 5_500_000, "examples": 100, "steps": 10, "tokens": 9999,
        "train_seconds": 120.0, "torch_threads": 2, "final_loss_avg100": 0.05,
        "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0},
    })  # fmt: skip
    skills = _write(tmp_path / "s.json", {"propose_valid": 0.971, "value_accuracy": 0.935,
                                          "judge_accuracy": 0.99, "io_success": 0.02,
                                          "cot_success": 0.05, "puzzles": 100})  # fmt: skip
    summary = _write(tmp_path / "c.json", {"strategies": [{
        "name": "tot", "accuracy": 0.6, "correct": 60, "n_scored": 100, "ci_low": 0.5,
        "ci_high": 0.69, "any_accuracy": 0.7, "mean_calls": 7.0, "mean_prompt_tokens": 900,
        "mean_completion_tokens": 3000, "mean_seconds": 1.5}]})  # fmt: skip
    assert main(["model-card", "--dir", str(d), "--skills", skills, "--compare", summary]) == 0
    card = (d / "MODEL_CARD.md").read_text()
    assert "5,500,000 parameters (5.50M)" in card
    assert "| propose: valid proposal lines | 97.1% | not measured | ≥ 95% |" in card
    assert "| tot | 60.0% (60/100) | 50.0% – 69.0% | 70.0% | 7.0 | 900 | 3000 | 1.50 |" in card
    assert "--task game24 --strategies tot --out" in card  # the strategies that were compared
    assert "2.0 minutes on 2 CPU threads" in card
    assert "--examples 100 --threads 2" in card and "50% are *wide*" in card

    # the recipe options of the training run appear in the documented command and the text
    summary_json = json.loads((d / "training_summary.json").read_text())
    summary_json["config"].update(wide_share=1.0, mark_weight=4.0)
    card = _card(d, summary_json, skills)
    assert "--examples 100 --wide-share 1 --mark-weight 4 --threads 2" in card
    assert "All 3-number states are *wide*" in card and "`!` mark 4×" in card
    summary_json["config"]["result_weight"] = 3.0
    card = _card(d, summary_json, skills)
    assert "--mark-weight 4 --threads 2" not in card and "--result-weight 3 --threads 2" in card
    assert ("the model under-marks). The loss weighs the result tokens (the number after each ` = `, "
            "the word after `Same numbers:`, `Makes 24:` and `Verdict:`) 3×.") in card
    del summary_json["config"]["result_weight"]
    summary_json["config"]["judge_correct_share"] = 0.3
    card = _card(d, summary_json, skills)
    assert "--judge-correct-share 0.3 --threads 2" in card
    assert " 30% of the judge's answers are right, the rest wrong (elsewhere half and half);" in card
    del summary_json["config"]["judge_correct_share"]
    summary_json["config"]["fraction_tokens"] = True  # a tokenizer option of a run from scratch
    assert "--examples 100 --fraction-tokens --wide-share 1 --mark-weight 4 --threads 2" in _card(
        d, summary_json, skills)
    del summary_json["config"]["fraction_tokens"]

    # a curriculum run: the late phase's options, and the mark weight described as the late phase's
    summary_json["config"].update(wide_share=0.5, late_share=0.3, late_wide_share=1.0)
    card = _card(d, summary_json, skills)
    assert "--examples 100 --late-share 0.3 --mark-weight 4 --threads 2" in card
    assert "last 30% of the examples" in card and "wide and the loss weighs the `!` mark 4×" in card

    # two stages: trained from scratch, then continued with --init-from (the base's summary inside)
    base = dict(summary_json, config={"lr": 0.002, "batch_tokens": 4096, "seed": 0}, data_seconds=60.0)
    two = {
        "parameters": 5_500_000, "examples": 50, "steps": 5, "tokens": 4000, "train_seconds": 30.0,
        "data_seconds": 6.0, "torch_threads": 2, "final_loss_avg100": 0.04, "base": base,
        "config": {"lr": 0.0005, "batch_tokens": 4096, "seed": 1, "wide_share": 1.0, "mark_weight": 4.0},
    }  # fmt: skip
    card = _card(d, two, skills)
    assert "1. `chainlab train-tiny --out runs/chainlab-tiny-base --examples 100 --threads 2` (seed 0)" in card
    assert ("2. `chainlab train-tiny --out runs/chainlab-tiny --init-from runs/chainlab-tiny-base "
            "--examples 50 --lr 0.0005 --seed 1 --wide-share 1 --mark-weight 4 --threads 2`") in card
    assert ("3.6 minutes from nothing on 2 CPU threads, 1.1 of them generating the data and 2.5 "
            "training — within the 90-minute budget") in card
    assert "100% of the 3-number value states are wide and the loss weighs the value check's `!` mark 4×" in card
    assert "50% of the 3-number states are sub-states of puzzles" in card  # the first stage's mix
    assert "`Same numbers: yes|no`" in card  # the judge target

    # a first stage with another architecture shows it in its command, the second stage does not
    base["config"].update(heads=4)
    two["config"].update(heads=4, init_from="runs/chainlab-tiny-base")
    card = _card(d, two, skills)
    assert "--examples 100 --heads 4 --threads 2` (seed 0)" in card
    assert "--examples 50 --lr 0.0005 --seed 1 --wide-share 1 --mark-weight 4 --threads 2`" in card

    # a second stage with its own skill mix
    two["config"].update(mix={"io": 0.03, "cot": 0.07, "propose": 0.4, "value": 0.3, "judge": 0.2})
    card = _card(d, two, skills)
    assert ("--mark-weight 4 --mix io=0.03,cot=0.07,propose=0.4,value=0.3,judge=0.2 "
            "--threads 2`") in card
    assert ("wide, the loss weighs the value check's `!` mark 4× and the skills are mixed io 3%, "
            "cot 7%, propose 40%, value 30%, judge 20%") in card

    # a stage trained with --compile says so in its command
    two["compiled"] = True
    card = _card(d, two, skills)
    assert "--heads 4 --threads 2` (seed 0)" in card  # the first stage ran eagerly
    assert "judge=0.2 --threads 2 --compile`" in card
    two["bf16"] = True  # and with --bf16
    assert "judge=0.2 --threads 2 --compile --bf16`" in _card(d, two, skills)
    two["bf16_flag"] = "auto"  # --bf16 auto: the command a CPU without bfloat16 can rerun
    assert "judge=0.2 --threads 2 --compile --bf16 auto`" in _card(d, two, skills)
    two["bf16"] = False
    assert "judge=0.2 --threads 2 --compile --bf16 auto`" in _card(d, two, skills)
    del two["bf16"], two["bf16_flag"]

    # a recipe that takes longer than the budget says so
    two["train_seconds"] = 90 * 60.0
    assert "training — over the 90-minute budget" in _card(d, two, skills)
    assert "from nothing on 2 CPU threads" in (d / "MODEL_CARD.md").read_text()  # CPU not logged
    two["cpu_capability"] = "AVX2"  # a run that logged its CPU names it: step times depend on it
    card = _card(d, two, skills)
    assert "(seed 0): " in card and "2.0 minutes on 2 CPU threads (CPU not recorded)." in card
    assert "judge 20%: 90.0 minutes on AVX2." in card
    # the total adds up times of different CPUs (the first stage's not logged): it says so
    assert ("from nothing on 2 CPU threads, adding up stages timed on different CPUs "
            "(first: not recorded, second: AVX2), 1.1 of them") in card
    base["cpu_capability"] = "AVX2"
    card = _card(d, two, skills)
    assert "from nothing on 2 AVX2 CPU threads, 1.1" in card and "2.0 minutes on 2 AVX2 CPU threads." in card
    base["cpu_capability"] = "AVX512"
    assert "(first: AVX512, second: AVX2)" in _card(d, two, skills)
    del base["cpu_capability"]

    # a second stage that changes the value check names it, and the targets section describes
    # the check the model was left with
    two["config"].update(value_format="pairs")
    card = _card(d, two, skills)
    assert "--value-format pairs --threads 2 --compile`" in card
    assert "the value skill learns the `pairs` check (below)" in card
    assert "(the `pairs` format)" in card and "`13 11 -> 24! 2 143`" in card and "need <r" not in card

    # so does one that gives the judge more answers to other puzzles
    two["config"].update(judge_other_share=0.5)
    card = _card(d, two, skills)
    assert "--judge-other-share 0.5 --threads 2 --compile`" in card
    assert "50% of the judge's wrong answers are correct answers to another puzzle" in card
    assert "Two stages (`make tiny-model` runs both)" in card

    # three stages: the second stage's run continued once more (its summary nests both earlier ones)
    three = {
        "parameters": 5_500_000, "examples": 20, "steps": 2, "tokens": 1500, "train_seconds": 12.0,
        "data_seconds": 3.0, "torch_threads": 2, "cpu_capability": "AVX2", "compiled": True,
        "final_loss_avg100": 0.03, "base": two,
        "config": dict(two["config"], lr=0.0003, seed=3, init_from="runs/chainlab-tiny-stage2"),
    }  # fmt: skip
    card = _card(d, three, skills)
    assert "Three stages (`make tiny-model` runs them all)" in card
    assert "1. `chainlab train-tiny --out runs/chainlab-tiny-base --examples 100 --heads 4" in card
    assert "2. `chainlab train-tiny --out runs/chainlab-tiny-stage2 --init-from runs/chainlab-tiny-base " in card
    assert ("3. `chainlab train-tiny --out runs/chainlab-tiny --init-from runs/chainlab-tiny-stage2 "
            "--examples 20 --lr 0.0003 --seed 3 --wide-share 1") in card
    assert "(1,500 tokens, 2 steps at 0.0003 with warm-up and cosine decay) with the second stage's recipe" in card
    assert card.count("Final answer-token loss") == 1 and "Final answer-token loss 0.0300" in card
    # 60 + 6 + 3 s of data, 2 + 90 + 0.2 min of training: every stage counts toward the budget
    assert ("from nothing on 2 CPU threads, adding up stages timed on different CPUs (first: not "
            "recorded, second: AVX2, third: AVX2), 1.1 of them generating the data and 92.2 training") in card
    assert "The third continues that practice on fresh conversations" in card
    three["config"]["mark_weight"] = 2.0  # a third stage that changes the recipe names the change
    assert "decay) in which the loss weighs the value check's `!` mark 2×: " in _card(d, three, skills)
    three["config"]["result_weight"] = 3.0
    assert ("mark 2× and the loss weighs the result tokens (the number after each ` = `, the word "
            "after `Same numbers:`, `Makes 24:` and `Verdict:`) 3×: ") in _card(d, three, skills)
    assert " --result-weight 3 --threads 2" in _card(d, three, skills)
    three["config"]["judge_correct_share"] = 0.3
    card = _card(d, three, skills)
    assert "3× and 30% of the judge's answers are right, the rest wrong: " in card
    assert " --judge-correct-share 0.3 --threads 2" in card


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert main(["model-card", "--dir", str(tmp_path), "--skills", str(tmp_path / "no.json")]) == 2
    assert "no.json does not exist" in capsys.readouterr().err


def _make_recipe_summary():
    """The training summary `make tiny-model` must match: the stored rebuild's when the shipped
    weights come from another recipe, else the shipped weights' own."""
    from pathlib import Path

    weights = Path(__file__).resolve().parents[1] / "chainlab/models/weights/chainlab-tiny"
    if (weights / "rebuild_summary.json").exists():
        return json.loads((weights / "rebuild_summary.json").read_text())["training"]
    return json.loads((weights / "training_summary.json").read_text())


def test_make_tiny_model_is_the_shipped_recipe():
    """`make tiny-model` runs the commands whose summary ships with chainlab-tiny (the shipped
    weights' own, or the rebuild's that the model card reports next to them)."""
    import re
    from pathlib import Path

    from chainlab.models.model_card import stage_out, training_stages
    from chainlab.models.tiny_data import DEFAULT_MIX
    from chainlab.models.train_tiny import format_mix, parse_mix

    root = Path(__file__).resolve().parents[1]
    summary = _make_recipe_summary()
    make = (root / "Makefile").read_text().replace("\\\n", " ")
    commands = re.findall(r"chainlab train-tiny ([^\n]+)", make)
    stages = training_stages(summary)
    assert len(commands) == len(stages)
    for i, (command, stage) in enumerate(zip(commands, stages, strict=True)):
        opts = dict(re.findall(r"--([a-z-]+) (\S+)", command))
        assert opts["out"] == stage_out(i, len(stages))  # the directories the model card names
        assert opts.get("init-from") == (stage_out(i - 1, len(stages)) if i else None)
        cfg = stage["config"]
        assert int(opts["examples"]) == stage["examples"] == cfg["examples"]
        assert int(opts.get("seed", 0)) == cfg["seed"]
        assert float(opts.get("lr", 2e-3)) == cfg["lr"]
        assert float(opts.get("wide-share", 0.5)) == cfg.get("wide_share", 0.5)
        assert float(opts.get("mark-weight", 1)) == cfg.get("mark_weight", 1.0)
        assert float(opts.get("result-weight", 1)) == cfg.get("result_weight", 1.0)
        assert parse_mix(opts.get("mix", format_mix(DEFAULT_MIX))) == cfg.get("mix", DEFAULT_MIX)
        assert opts.get("value-format", "need") == cfg.get("value_format", "need")
        assert float(opts.get("judge-other-share", 0)) == cfg.get("judge_other_share", 0.0)
        assert float(opts.get("judge-correct-share", 0.5)) == cfg.get("judge_correct_share", 0.5)
        assert opts.get("propose-format", "plain") == cfg.get("propose_format", "plain")
        assert opts.get("judge-format", "plain") == cfg.get("judge_format", "plain")
        assert opts.get("cot-format", "plain") == cfg.get("cot_format", "plain")
        assert opts.get("optimizer", "adamw") == cfg.get("optimizer", "adamw")
        if "init_from" not in cfg:  # a continued run keeps its init model's architecture
            assert int(opts.get("heads", 8)) == cfg.get("heads", 8)
            assert int(opts.get("layers", 6)) == cfg.get("layers", 6)
            assert int(opts.get("hidden-size", 256)) == cfg.get("hidden_size", 256)
            assert int(opts.get("intermediate-size", 768)) == cfg.get("intermediate_size", 768)
        assert ("init-from" in opts) == ("init_from" in cfg)
        assert opts.get("widen") == ("{}:{}".format(*cfg["widen"]) if cfg.get("widen") else None)
        assert ("--compile" in command.split()) == bool(stage.get("compiled"))
        if stage.get("bf16_flag") == "auto":  # the CPU chose; the command lets every CPU choose
            assert "--bf16 auto" in command
        else:
            assert ("--bf16" in command.split()) == bool(stage.get("bf16"))
        switch = re.search(r"--bf16-from-step (\d+)", command)
        assert (int(switch.group(1)) if switch else 0) == (stage.get("bf16_from_step") or 0)


def test_make_tiny_model_resumes_stage_by_stage():
    """Each `make tiny-model` stage is the file target of its own training log, made from the log of the
    stage it continues, so a second `make` after an interruption reruns only what is unfinished."""
    import re
    from pathlib import Path

    make = (Path(__file__).resolve().parents[1] / "Makefile").read_text().replace("\\\n", " ")
    rules = re.findall(r"^(runs/\S+)/training_log\.json: *([^\n]*)\n\t[^\n]*chainlab train-tiny ([^\n]+)", make, re.M)
    from chainlab.models.model_card import training_stages

    assert len(rules) == len(training_stages(_make_recipe_summary()))
    assert re.search(r"^tiny-model: runs/chainlab-tiny/training_log\.json$", make, re.M)
    for target, prerequisites, command in rules:
        opts = dict(re.findall(r"--([a-z-]+) (\S+)", command))
        assert opts["out"] == target
        if "init-from" in opts:
            assert prerequisites.split() == [f"{opts['init-from']}/training_log.json"]
        else:  # the first stage waits for the install only, not for the install's timestamp
            assert prerequisites.split() == ["|", "$(STAMP)"]


def test_every_propose_format_has_a_model_card_description():
    from chainlab.models.model_card import PROPOSE_TARGETS
    from chainlab.models.tiny_data import PROPOSE_FORMATS

    assert set(PROPOSE_TARGETS) == set(PROPOSE_FORMATS)
    assert "4 5 6 10 | 4 + 10 = 14 (left: 5 6 14)" in PROPOSE_TARGETS["restated"]


def test_every_judge_format_has_a_model_card_description():
    from chainlab.models.model_card import JUDGE_TARGETS
    from chainlab.models.tiny_data import JUDGE_FORMATS

    assert set(JUDGE_TARGETS) == set(JUDGE_FORMATS)
    assert all("Verdict: correct|incorrect" in text for text in JUDGE_TARGETS.values())


def test_every_cot_format_has_a_model_card_description():
    from chainlab.models.model_card import COT_TARGETS
    from chainlab.models.tiny_data import COT_FORMATS

    assert set(COT_TARGETS) == set(COT_FORMATS)
    assert all("`Answer: … = 24`" in text for text in COT_TARGETS.values())


def test_a_widened_stage_is_in_the_documented_command():
    """A stage run with ``--widen`` shows the flag in its command and says what it does."""
    from chainlab.models.model_card import training_text

    run = {"examples": 100, "steps": 10, "tokens": 9999, "train_seconds": 60.0, "data_seconds": 6.0,
           "torch_threads": 2, "final_loss_avg100": 0.05}
    base = {**run, "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0}}
    second = {**run, "config": {"lr": 0.0005, "batch_tokens": 4096, "seed": 1, "init_from": "x"}, "base": base}
    top = {**run, "config": {"lr": 0.001, "batch_tokens": 4096, "seed": 5, "init_from": "y",
                             "widen": [320, 896]}, "base": second}  # fmt: skip
    text, _, _ = training_text(top)
    assert "--init-from runs/chainlab-tiny-stage2 --examples 100 --lr 0.001 --seed 5 --widen 320:896" in text
    assert "first widened to hidden size 320 and MLP width 896" in text
    assert "--widen" not in training_text(second)[0]


def test_a_muon_lineage_shows_its_optimizer_and_seed():
    """Stages trained with ``--optimizer muon`` show the flag in their commands and say so in words; a
    first stage with another seed than the default shows ``--seed``; AdamW stages read as before."""
    from chainlab.models.model_card import training_text

    run = {"examples": 100, "steps": 10, "tokens": 9999, "train_seconds": 60.0, "data_seconds": 6.0,
           "torch_threads": 2, "final_loss_avg100": 0.05}
    base = {**run, "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 1, "optimizer": "muon"}}
    top = {**run, "config": {"lr": 0.001, "batch_tokens": 4096, "seed": 5, "init_from": "x", "optimizer": "muon"},
           "base": base}  # fmt: skip
    text = training_text(top)[0]
    assert "`chainlab train-tiny --out runs/chainlab-tiny-base --examples 100 --seed 1 --optimizer muon --threads 2`" in text
    assert "--seed 5 --optimizer muon --threads 2`" in text
    assert "Muon on the blocks' matrices (at AdamW's update size) and AdamW on the rest at 0.002" in text
    assert "10 steps of Muon on the blocks' matrices" in text
    adamw = {**run, "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0}}
    text = training_text(adamw)[0]
    assert "--optimizer" not in text and "--seed" not in text.split("`")[1]
    assert "AdamW at 0.002" in text and "Muon" not in text


def test_the_card_says_whether_a_rerun_repeats_the_weights():
    """Stages whose logs say they trained with deterministic kernels repeat bit for bit; older ones
    (no ``deterministic`` in their log) are one draw of their recipe, and the card says which."""
    from chainlab.models.model_card import training_text

    run = {"examples": 100, "steps": 10, "tokens": 9999, "train_seconds": 60.0, "data_seconds": 6.0,
           "torch_threads": 2, "final_loss_avg100": 0.05}
    base = {**run, "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0}}
    second = {**run, "config": {"lr": 0.0005, "batch_tokens": 4096, "seed": 1, "init_from": "x"}, "base": base}
    assert "This stage trained before `train-tiny`'s kernels were deterministic: a rerun of the command" in (
        training_text(base)[0])
    assert "These stages trained before" in training_text(second)[0]
    assert "The first stage trained before" in training_text({**second, "deterministic": True})[0]
    text = training_text({**second, "deterministic": True, "base": {**base, "deterministic": True}})[0]
    assert "trained before" not in text
    assert "Every stage trained with deterministic kernels: its command repeats it bit for bit" in text

def test_a_rebuild_gets_its_own_section(tmp_path, capsys):
    """`model-card --rebuild RUN --rebuild-skills FILE` stores the run's stages and skills beside the
    weights; the card then says `make tiny-model` runs that recipe, with its time and skills next
    to the shipped weights' and the floors it misses; installing new weights drops the stored rebuild."""
    from chainlab.models.install_tiny import SHIPPED, install

    d = tmp_path / "chainlab-tiny"  # install() below puts new weights here
    d.mkdir()
    _write(d / "config.json", {"num_hidden_layers": 6, "hidden_size": 256, "num_attention_heads": 8,
                               "intermediate_size": 768, "vocab_size": 1500,
                               "max_position_embeddings": 1024})  # fmt: skip
    run = {"parameters": 5_500_000, "steps": 10, "tokens": 9999, "torch_threads": 2, "final_loss_avg100": 0.05}
    shipped = {**run, "examples": 100, "train_seconds": 6000.0, "data_seconds": 60.0,
               "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0, "init_from": "x"},
               "base": {**run, "examples": 300, "train_seconds": 3000.0, "data_seconds": 60.0,
                        "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0}}}  # fmt: skip
    _write(d / "training_summary.json", shipped)
    base = tmp_path / "rebuild-base"
    base.mkdir()
    _write(base / "training_log.json", {**run, "examples": 300, "train_seconds": 2400.0, "data_seconds": 60.0,
                                        "compiled": True, "bf16": True, "bf16_flag": "auto", "bf16_from_step": 4,
                                        "config": {"lr": 0.002, "batch_tokens": 4096, "seed": 0}, "history": [1]})  # fmt: skip
    final = tmp_path / "rebuild"
    final.mkdir()
    _write(final / "training_log.json", {**run, "examples": 100, "train_seconds": 2400.0, "data_seconds": 60.0,
                                         "compiled": True, "bf16": True, "bf16_flag": "auto",
                                         "config": {"lr": 0.001, "batch_tokens": 4096, "seed": 5,
                                                    "init_from": str(base)}})  # fmt: skip
    skills = _write(tmp_path / "s.json", {"propose_valid": 0.983, "value_accuracy": 0.989, "judge_accuracy": 0.985})
    rebuilt = _write(tmp_path / "r.json", {"propose_valid": 0.976, "value_accuracy": 0.972,
                                           "judge_accuracy": 0.973, "answer_success": 0.51})  # fmt: skip

    assert main(["model-card", "--dir", str(d), "--skills", skills, "--rebuild", str(final)]) == 2
    assert "--rebuild and --rebuild-skills go together" in capsys.readouterr().err
    assert not (d / "rebuild_summary.json").exists()

    assert main(["model-card", "--dir", str(d), "--skills", skills, "--rebuild", str(final),
                 "--rebuild-skills", rebuilt]) == 0  # fmt: skip
    stored = json.loads((d / "rebuild_summary.json").read_text())
    assert stored["skills"]["judge_accuracy"] == 0.973 and "history" not in stored["training"]["base"]
    for card in ((d / "MODEL_CARD.md").read_text(),
                 _card(d, shipped, skills)):  # a later call without --rebuild keeps the section
        assert "Two stages (the recipe of these weights; `make tiny-model` runs the shorter one" in card
        assert "## Rebuilding from scratch" in card
        assert "Two stages (`make tiny-model` runs both): 82.0 minutes from nothing" in card
        assert "--examples 300 --threads 2 --compile --bf16 auto --bf16-from-step 4`" in card
        assert "--examples 100 --lr 0.001 --seed 5 --threads 2 --compile --bf16 auto`" in card
        assert "| judge: accuracy, correct vs corrupted answers | 98.5% | 97.3% | ≥ 98% |" in card
        assert "The rebuild is under the floor on judge" in card

    model = tmp_path / "new"
    model.mkdir()
    for f in SHIPPED["model"][1]:
        (model / f).write_text("{}")
    _write(model / "training_log.json", {**run, "examples": 100, "config": {"seed": 0}})
    assert install(model, "model", tmp_path) == d
    assert (d / "training_summary.json").exists() and not (d / "rebuild_summary.json").exists()
