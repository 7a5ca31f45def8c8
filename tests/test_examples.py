"""The example notebooks and the strategy suite of ``examples/``, executed as written (offline).

Each notebook runs top to bottom with nbclient in a kernel of this Python (cwd ``examples/``), and must
finish within 300 s. Its model:

* ``$CHAINLAB_MODEL`` when set (e.g. a local directory while ``chainlab-tiny`` is not packaged);
* else the packaged ``chainlab-tiny``;
* else, for 01-03 (which need no trained skills), a tiny random Llama built for the test. 04-07 and the
  strategy suite are skipped until ``chainlab-tiny`` is packaged; 04 also needs the ``chainlab-tiny-arith``
  adapter (or ``$CHAINLAB_ADAPTER`` with ``$CHAINLAB_MODEL``).

Outputs the notebooks write go to a temporary directory (``$CHAINLAB_EXAMPLES_OUT``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chainlab.models.registry import available

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
NOTEBOOK_TIMEOUT = 300  # seconds per notebook
NOTEBOOKS = sorted(p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.ipynb"))
#: notebooks that run on any model (no trained skills needed)
ANY_MODEL = {"01_chat_format", "02_temperature_personas", "03_few_shot_selection"}
#: notebooks that need the arithmetic adapter
NEEDS_ADAPTER = {"04_cot_sc_verifier"}


def _data_file(*parts: str) -> Path | None:
    """A benchmark file from ``$CHAINLAB_DATA`` or ``../shared/data`` (as the notebooks look it up)."""
    from chainlab.tasks.data import find_data_file

    return find_data_file(*parts)


def _model_env(name: str, request) -> dict[str, str]:
    """``CHAINLAB_MODEL`` / ``CHAINLAB_ADAPTER`` for notebook ``name``, or skip with the reason."""
    have = available()
    user_model = os.environ.get("CHAINLAB_MODEL")
    env: dict[str, str] = {}
    if user_model:
        env["CHAINLAB_MODEL"] = user_model
        if name in NEEDS_ADAPTER:
            adapter = os.environ.get("CHAINLAB_ADAPTER")
            if not adapter:
                pytest.skip(f"{name} needs an arithmetic adapter for CHAINLAB_MODEL={user_model}: set CHAINLAB_ADAPTER")
            env["CHAINLAB_ADAPTER"] = adapter
        return env
    if "chainlab-tiny" in have:
        if name in NEEDS_ADAPTER and "chainlab-tiny-arith" not in have:
            pytest.skip(f"{name} needs the chainlab-tiny-arith adapter, not packaged yet (available(): {have})")
        env["CHAINLAB_MODEL"] = "chainlab-tiny"
        return env
    if name in ANY_MODEL:
        env["CHAINLAB_MODEL"] = str(request.getfixturevalue("random_llama_dir"))
        return env
    pytest.skip(
        f"{name} needs the packaged chainlab-tiny, not in this install yet (available(): {have}); "
        "set CHAINLAB_MODEL to a model directory to run it anyway"
    )


@pytest.fixture(scope="session")
def random_llama_dir(tmp_path_factory) -> Path:
    """A tiny random Llama (chainlab.llms.tiny_random) with room for the notebooks' longest prompts:
    its small BPE vocabulary spends many tokens on English text."""
    from chainlab.llms.tiny_random import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("examples-llama") / "model", max_position_embeddings=2048)


def _kernel_manager(tmp_path: Path):
    """A kernel manager whose kernel is this Python (the project's venv), whatever kernelspecs exist."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = tmp_path / "kernels" / "chainlab-examples"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "chainlab examples",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    return AsyncKernelManager(kernel_name="chainlab-examples", kernel_spec_manager=ksm)


def run_notebook(path: Path, env: dict[str, str], tmp_path: Path, timeout: int = NOTEBOOK_TIMEOUT):
    """Execute ``path`` (cwd ``examples/``); returns (executed notebook, seconds).

    The whole notebook gets ``timeout`` seconds: the kernel is interrupted (then killed) when they are up.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    km = _kernel_manager(tmp_path)
    client = NotebookClient(
        nb, km=km, timeout=timeout, resources={"metadata": {"path": str(EXAMPLES)}}
    )
    timed_out = threading.Event()

    def stop(sig: int) -> None:
        pid = getattr(getattr(km, "provisioner", None), "pid", None)
        if pid:
            timed_out.set()
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    timers = [threading.Timer(timeout, stop, (signal.SIGINT,)), threading.Timer(timeout + 30, stop, (signal.SIGKILL,))]
    for t in timers:
        t.daemon = True
        t.start()
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except (CellExecutionError, DeadKernelError) as exc:
        if timed_out.is_set():
            pytest.fail(f"{path.name} did not finish within {timeout} s")
        pytest.fail(f"{path.name} failed:\n{exc}")
    finally:
        for t in timers:
            t.cancel()
    seconds = time.perf_counter() - start
    return nb, seconds


def _kernel_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["CHAINLAB_EXAMPLES_OUT"] = str(tmp_path / "outputs")
    env.pop("CHAINLAB_ADAPTER", None)
    env.update(extra)
    return env


# ------------------------------------------------------------------ fast checks (always run)


def test_every_example_is_indexed_and_stored_without_outputs():
    import nbformat

    assert NOTEBOOKS == [
        "01_chat_format",
        "02_temperature_personas",
        "03_few_shot_selection",
        "04_cot_sc_verifier",
        "05_tree_of_thoughts",
        "06_compare_strategies",
        "07_lora_adapter",
    ]
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in NOTEBOOKS:
        assert f"({name}.ipynb)" in readme, f"examples/README.md does not link {name}.ipynb"
        nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name}: outputs not stripped"
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert 'os.environ.get("CHAINLAB_MODEL", "chainlab-tiny")' in source, name
        assert '# MODEL = "TheBloke/Llama-2-13B-chat-GPTQ"' in source, name
    assert "(test_strategy_suite.py)" in readme


def test_tot_tree_drawing_on_a_scripted_search():
    """The tree plot of notebook 05 on a search by a perfect scripted model: chosen path = the answer's."""
    import matplotlib

    matplotlib.use("Agg")
    sys.path.insert(0, str(EXAMPLES))
    try:
        from notebook_utils import chosen_path, draw_tot_tree, tree_layout
    finally:
        sys.path.remove(str(EXAMPLES))
    from test_chains_fakes import RecordingLLM, game24_oracle

    from chainlab.chains import tot_search

    llm = RecordingLLM(responder=game24_oracle(max_proposals=3))
    r = tot_search(llm, "game24", b=2, n_evaluate_sample=1).invoke("4 5 6 10")
    assert r.correct
    path = chosen_path(r.trace)
    nodes = r.trace.by_stage("node")
    assert path[0] == nodes[0].id and r.trace[path[-1]].data["answer"] == r.answer
    assert [r.trace[i].data["depth"] for i in path] == [0, 1, 2, 3, 4]
    pos = tree_layout(r.trace)
    assert set(pos) == {n.id for n in nodes}
    assert all(pos[n.id][0] == n.data["depth"] for n in nodes)
    fig = draw_tot_tree(r.trace)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(lbl.startswith(f"Answer: {r.answer}") for lbl in labels)

    # no answer: the path ends at the best state of the deepest level reached
    dead = RecordingLLM(responder=lambda prompt, j: "")
    r2 = tot_search(dead, "game24", b=2, n_evaluate_sample=1).invoke("4 5 6 10")
    assert r2.answer is None and chosen_path(r2.trace) == [r2.trace.by_stage("node")[0].id]
    draw_tot_tree(r2.trace)


# ------------------------------------------------------------------ the notebooks (slow)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, request, tmp_path):
    if name == "03_few_shot_selection" and not (
        _data_file("gsm8k", "train.jsonl") and _data_file("gsm8k", "test.jsonl")
    ):
        pytest.skip("GSM8K not found: set CHAINLAB_DATA to the folder holding gsm8k/")
    env = _kernel_env(tmp_path, _model_env(name, request))
    nb, seconds = run_notebook(EXAMPLES / f"{name}.ipynb", env, tmp_path)
    print(f"{name}: {seconds:.0f} s on {env['CHAINLAB_MODEL']}")
    assert seconds <= NOTEBOOK_TIMEOUT
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.slow
def test_strategy_suite_passes(tmp_path):
    model = os.environ.get("CHAINLAB_MODEL")
    if not model and "chainlab-tiny" not in available():
        pytest.skip(f"chainlab-tiny is not packaged yet (available(): {available()})")
    csv = _data_file("game24", "24.csv")
    if csv is None:
        pytest.skip("24.csv not found: set CHAINLAB_DATA to the folder holding game24/")
    env = _kernel_env(tmp_path, {"CHAINLAB_MODEL": model or "chainlab-tiny", "CHAINLAB_DATA": str(csv.parents[1])})
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
           str(EXAMPLES / "test_strategy_suite.py")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, out
    assert re.search(r"\b2 passed\b", proc.stdout) and "skipped" not in proc.stdout.splitlines()[-1], out
