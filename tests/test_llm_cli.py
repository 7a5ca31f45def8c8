"""chainlab generate."""

from __future__ import annotations

import subprocess
import sys

from chainlab.cli import main
from chainlab.prompts.chat_format import llama2_prompt


def test_generate_prints_a_chat_formatted_generation(tiny_model_dir, tiny_llm, capsys):
    code = main(
        ["generate", "--model", str(tiny_model_dir), "--prompt", "hi", "--max-new-tokens", "6"]
        + ["--system", "Be brief."]
    )
    assert code == 0
    out = capsys.readouterr().out
    expected = tiny_llm.invoke(llama2_prompt("hi", system="Be brief."), max_new_tokens=6)
    assert out == expected + "\n"


def test_generate_raw_and_sampling(tiny_model_dir, tiny_llm, capsys):
    base = ["generate", "--model", str(tiny_model_dir), "--prompt", "hello world", "--raw"]
    assert main([*base, "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out == tiny_llm.invoke("hello world", max_new_tokens=5) + "\n"
    sampled = [*base, "--max-new-tokens", "8", "--temperature", "1.5", "--seed", "3"]
    assert main(sampled) == 0
    first = capsys.readouterr().out
    assert main(sampled) == 0
    assert capsys.readouterr().out == first


def test_generate_with_adapter(tiny_model_dir, tiny_lora_dir, capsys):
    args = ["generate", "--model", str(tiny_model_dir), "--prompt", "hello world", "--raw"]
    assert main([*args, "--adapter", str(tiny_lora_dir), "--max-new-tokens", "6"]) == 0
    with_adapter = capsys.readouterr().out
    assert main([*args, "--max-new-tokens", "6"]) == 0
    assert capsys.readouterr().out != with_adapter


def test_generate_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "missing"), "--prompt", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err


def test_cli_import_stays_light():
    code = (
        "import sys; import chainlab.cli as c; c.build_parser(); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
