"""Tests for chainlab.selectors with the real bundled all-MiniLM-L6-v2 (small example sets)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import (
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    PromptTemplate,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from chainlab.prompts import data_path, few_shot_prompt  # noqa: E402
from chainlab.selectors import (  # noqa: E402
    DEFAULT_MODEL_NAME,
    MaxMarginalRelevanceExampleSelector,
    SemanticExampleSelector,
    TokenBudgetExampleSelector,
    default_embeddings,
    infer_input_keys,
    make_token_counter,
    mmr_select,
)

EXAMPLES = [
    {"question": "What is the capital of France?", "answer": "Paris"},
    {"question": "Which city is the capital of Italy?", "answer": "Rome"},
    {"question": "Tom has 3 apples and buys 5 more. How many apples does he have?", "answer": "8"},
    {"question": "A baker sells 12 cakes a day. How many cakes in 4 days?", "answer": "48"},
    {"question": "How do I reverse a list in Python?", "answer": "Use lst[::-1]."},
    {"question": "How can I sort a dictionary by value in Python?", "answer": "sorted(d.items(), key=...)"},
]


@pytest.fixture(scope="module")
def emb():
    return default_embeddings()


@pytest.fixture(scope="module")
def selector(emb):
    return SemanticExampleSelector(EXAMPLES, embeddings=emb, k=2)


def _questions(examples):
    return [e["question"] for e in examples]


class NamedFake(Embeddings):
    """Deterministic fake embeddings with a chosen name and dimension."""

    def __init__(self, model_name: str, dimension: int):
        self.model_name = model_name
        self.dimension = dimension
        self._fake = DeterministicFakeEmbedding(size=dimension)

    def embed_documents(self, texts):
        return self._fake.embed_documents(texts)

    def embed_query(self, text):
        return self._fake.embed_query(text)


# ---------------------------------------------------------------- ranking
def test_default_input_keys_skip_answers(selector):
    assert selector.input_keys == ["question"]
    assert selector.example_text(EXAMPLES[0]) == "What is the capital of France?"
    assert infer_input_keys({"input": 1, "output": 2, "final_answer": 3, "topic": 4}) == ["input", "topic"]
    with pytest.raises(ValueError, match="input_keys"):
        infer_input_keys({"answer": 1})


@pytest.mark.parametrize(
    "query, expected",
    [
        ("What is the capital city of Spain?", {"What is the capital of France?", "Which city is the capital of Italy?"}),
        ("How do I append to a list in Python?", {"How do I reverse a list in Python?", "How can I sort a dictionary by value in Python?"}),
        ("Sara has 4 pencils and gets 6 more. How many pencils now?", {EXAMPLES[2]["question"], EXAMPLES[3]["question"]}),
    ],
)
def test_ranking_hand_checked(selector, query, expected):
    got = selector.select_examples({"question": query})
    assert set(_questions(got)) == expected
    assert all(set(g) == {"question", "answer"} for g in got)


def test_scores_sorted_and_top1(selector):
    hits = selector.similarity_search("capital of France", k=3)
    assert hits[0][0]["answer"] == "Paris"
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)


def test_query_equal_to_example_reuses_vector(emb):
    s = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=1)
    assert s.select_examples({"question": EXAMPLES[3]["question"]})[0] == EXAMPLES[3]
    assert s.num_query_embedded == 0


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_approximate_indexes_agree_on_small_set(emb, selector, index_type):
    s = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=2, index_type=index_type)
    for q in ("capital of Germany?", "Python string split", "How many eggs in 3 dozen?"):
        assert s.select_examples({"question": q}) == selector.select_examples({"question": q})


def test_mmr_diversity(emb):
    examples = [
        {"question": "What is the capital of France?", "answer": "Paris"},
        {"question": "What's the capital city of France?", "answer": "Paris"},
        {"question": "Name the capital of France.", "answer": "Paris"},
        {"question": "What is the capital of Japan?", "answer": "Tokyo"},
        {"question": "How many legs does a spider have?", "answer": "8"},
    ]
    query = {"question": "Tell me the capital of France"}
    plain = SemanticExampleSelector(examples, embeddings=emb, k=2)
    mmr = MaxMarginalRelevanceExampleSelector(examples, embeddings=emb, k=2, fetch_k=5, lambda_mult=0.3)
    plain_q = _questions(plain.select_examples(query))
    mmr_q = _questions(mmr.select_examples(query))
    assert all("France" in q for q in plain_q)  # near-duplicates only
    assert mmr_q[0] == plain_q[0]  # MMR keeps the most relevant first
    assert "France" not in mmr_q[1]  # ... then diversifies
    assert mmr.mmr and SemanticExampleSelector(examples, embeddings=emb, mmr=True).mmr


def test_mmr_select_unit():
    c = np.array([[1, 0], [0.99, 0.14], [0, 1]], dtype=np.float32)
    assert mmr_select(np.array([1, 0.05], dtype=np.float32), c, 2, 0.5) == [0, 2]
    assert mmr_select(np.array([1, 0.05], dtype=np.float32), c, 2, 1.0) == [0, 1]


# ---------------------------------------------------------------- prompts with selectors
def test_brace_safe_few_shot_with_selector(emb):
    examples = [
        {"question": "Give a JSON object with a equal to one", "answer": '{"a": 1}'},
        {"question": "Write a Python set literal holding x", "answer": "{x}"},
        {"question": "What color is the sky?", "answer": "blue"},
    ]
    sel = SemanticExampleSelector(examples, embeddings=emb, k=2)
    prompt = few_shot_prompt(example_selector=sel)
    assert isinstance(prompt, FewShotPromptTemplate)
    text = prompt.format(question="Return a JSON object with key a set to 1, or a set {x}")
    assert 'A: {"a": 1}' in text and "A: {x}" in text and "blue" not in text
    assert text.endswith("Q: Return a JSON object with key a set to 1, or a set {x}\nA:")
    # langchain_core's own class raises on the same selection; ours does not.
    plain = FewShotPromptTemplate(
        example_selector=sel,
        example_prompt=PromptTemplate.from_template("Q: {question}\nA: {answer}"),
        suffix="Q: {question}\nA:",
    )
    with pytest.raises(KeyError):
        plain.format(question="JSON with a = 1")


def test_selector_in_langchain_chat_few_shot(selector):
    shots = FewShotChatMessagePromptTemplate(
        example_selector=selector,
        example_prompt=ChatPromptTemplate.from_messages([("human", "{question}"), ("ai", "{answer}")]),
        input_variables=["question"],
    )
    msgs = ChatPromptTemplate.from_messages([shots, ("human", "{question}")]).format_messages(
        question="capital of Spain?"
    )
    assert [type(m) for m in msgs] == [HumanMessage, AIMessage, HumanMessage, AIMessage, HumanMessage]
    assert {msgs[1].content, msgs[3].content} == {"Paris", "Rome"}


# ---------------------------------------------------------------- incremental / cache
def test_add_examples_incremental_and_cache(emb):
    s = SemanticExampleSelector(EXAMPLES[:2], embeddings=emb, k=1)
    assert s.num_embedded == 2
    rows = s.add_examples([EXAMPLES[4], dict(EXAMPLES[0], answer="Paris, France")])
    assert rows == [2, 3] and len(s) == 4
    assert s.num_embedded == 3  # the repeated question was not embedded again
    s.add_example(EXAMPLES[5])
    assert s.select_examples({"question": "sort a dict by its values in python"}) == [EXAMPLES[5]]
    dup = SemanticExampleSelector([EXAMPLES[0]] * 3, embeddings=emb, k=1)
    assert dup.num_embedded == 1 and len(dup) == 3


def test_example_keys_filter(emb):
    s = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=1, example_keys=["answer"])
    assert s.select_examples({"question": "capital of France"}) == [{"answer": "Paris"}]


# ---------------------------------------------------------------- bad input
def test_more_than_available_warns(selector):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = selector.select_examples({"question": "anything"}, k=50)
    assert len(got) == len(EXAMPLES)
    assert any("only 6" in str(w.message) for w in caught)


def test_empty_examples_error(emb):
    with pytest.raises(ValueError, match="at least one example"):
        SemanticExampleSelector([], embeddings=emb)


def test_missing_input_key_error(emb):
    bad = [EXAMPLES[0], EXAMPLES[1], {"answer": "no question"}]
    with pytest.raises(KeyError, match=r"Example 2 is missing input key 'question'"):
        SemanticExampleSelector(bad, embeddings=emb)
    s = SemanticExampleSelector(EXAMPLES[:2], embeddings=emb)
    with pytest.raises(KeyError, match="Example 2 is missing"):
        s.add_example({"q": "x"})


def test_query_without_input_keys(selector):
    with pytest.raises(KeyError, match="input_keys"):
        selector.select_examples({"other": "x"})


# ---------------------------------------------------------------- persistence
def test_save_load_roundtrip(tmp_path, emb):
    s = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=3, mmr=True, fetch_k=5)
    s.save(tmp_path / "sel")
    files = sorted(p.name for p in (tmp_path / "sel").iterdir())
    assert files == ["examples.json", "index.faiss", "meta.json"]
    meta = json.loads((tmp_path / "sel" / "meta.json").read_text())
    assert meta["embedding_model"] == DEFAULT_MODEL_NAME and meta["dimension"] == 384
    assert meta["index"]["index_type"] == "flat" and meta["normalize"] is True
    assert meta["input_keys"] == ["question"]

    t = SemanticExampleSelector.load(tmp_path / "sel")
    assert t.examples == s.examples and t.k == 3 and t.mmr
    for q in ("capital of Spain", "python lists", "cakes per week"):
        assert t.select_examples({"question": q}) == s.select_examples({"question": q})
        got, want = t.similarity_search(q), s.similarity_search(q)
        assert [e for e, _ in got] == [e for e, _ in want]
        assert [sc for _, sc in got] == pytest.approx([sc for _, sc in want], abs=1e-6)
    t.add_example({"question": "What is the capital of Germany?", "answer": "Berlin"})
    assert t.select_examples({"question": "German capital"}, k=1)[0]["answer"] == "Berlin"
    assert SemanticExampleSelector.load(tmp_path / "sel", k=1, mmr=False).k == 1


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_save_load_approximate(tmp_path, emb, index_type):
    s = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=2, index_type=index_type)
    s.save(tmp_path)
    t = SemanticExampleSelector.load(tmp_path, embeddings=emb)
    assert t.config.index_type == index_type
    assert t.select_examples({"question": "capital?"}) == s.select_examples({"question": "capital?"})


def test_load_with_other_model_or_dimension(tmp_path):
    fake = NamedFake("fake-a", 16)
    SemanticExampleSelector(EXAMPLES, embeddings=fake).save(tmp_path)
    assert SemanticExampleSelector.load(tmp_path, embeddings=fake).examples == EXAMPLES
    with pytest.raises(ValueError, match="model mismatch.*fake-a.*fake-b"):
        SemanticExampleSelector.load(tmp_path, embeddings=NamedFake("fake-b", 16))
    with pytest.raises(ValueError, match="dimension mismatch.*16.*32"):
        SemanticExampleSelector.load(tmp_path, embeddings=NamedFake("fake-a", 32))
    with pytest.raises(ValueError, match="fake-a"):
        SemanticExampleSelector.load(tmp_path)  # default MiniLM is not the saved model


def test_load_corrupted_index(tmp_path):
    fake = NamedFake("fake-a", 16)
    SemanticExampleSelector(EXAMPLES, embeddings=fake).save(tmp_path)
    index_file = tmp_path / "index.faiss"
    data = bytearray(index_file.read_bytes())
    data[10:40] = b"\x00" * 30
    index_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        SemanticExampleSelector.load(tmp_path, embeddings=fake)
    # Even with a matching checksum, garbage that FAISS cannot read is reported clearly.
    index_file.write_bytes(b"not a faiss index")
    meta = json.loads((tmp_path / "meta.json").read_text())
    import hashlib

    meta["index_sha256"] = hashlib.sha256(b"not a faiss index").hexdigest()
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="corrupted or unreadable"):
        SemanticExampleSelector.load(tmp_path, embeddings=fake)
    (tmp_path / "index.faiss").unlink()
    with pytest.raises(FileNotFoundError, match="index.faiss"):
        SemanticExampleSelector.load(tmp_path, embeddings=fake)


def test_no_pickle_in_package():
    import chainlab.selectors as pkg

    root = os.path.dirname(pkg.__file__)
    for name in os.listdir(root):
        if name.endswith(".py"):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                src = f.read()
            assert "import pickle" not in src and "pickle.load" not in src, name


# ---------------------------------------------------------------- from_jsonl
def test_from_jsonl(tmp_path, emb):
    path = tmp_path / "ex.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EXAMPLES) + "\n", encoding="utf-8")
    s = SemanticExampleSelector.from_jsonl(path, ["question"], embeddings=emb, k=1, show_progress=False)
    assert len(s) == len(EXAMPLES)
    assert s.select_examples({"question": "capital of France"})[0]["answer"] == "Paris"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="no examples"):
        SemanticExampleSelector.from_jsonl(empty, embeddings=emb)


def test_from_jsonl_gsm8k_subset(emb):
    try:
        path = data_path("gsm8k", "train.jsonl")
    except FileNotFoundError:
        pytest.skip("GSM8K data not found (set CHAINLAB_DATA)")
    s = SemanticExampleSelector.from_jsonl(path, limit=40, embeddings=emb, k=3, show_progress=False)
    assert s.input_keys == ["question"] and len(s) == 40
    q = s.examples[7]["question"]
    assert s.select_examples({"question": q})[0]["question"] == q


# ---------------------------------------------------------------- token budget
def test_token_counter_kinds(emb):
    hf = emb.model.tokenizer
    text = "Tom has three apples."
    assert make_token_counter(hf)(text) == len(hf.encode(text, add_special_tokens=False))
    assert make_token_counter(lambda t: len(t.split()))(text) == 4
    assert make_token_counter(str.split)(text) == 4
    with pytest.raises(TypeError):
        make_token_counter(42)


def test_token_budget_selector(emb):
    words = lambda t: len(t.split())  # noqa: E731
    inner = SemanticExampleSelector(EXAMPLES, embeddings=emb, k=4)
    query = {"question": "How many apples?"}
    full = inner.select_examples(query)
    fmt = "Q: {question}\nA: {answer}"
    budget = TokenBudgetExampleSelector(inner, fmt, max_tokens=10_000, tokenizer=words)
    assert budget.select_examples(query) == full
    # Budget fitting exactly the first two examples + the input.
    need = budget.prompt_tokens(full[:2], query)
    tight = TokenBudgetExampleSelector(inner, fmt, max_tokens=need, tokenizer=words)
    assert tight.select_examples(query) == full[:2]
    assert tight.prompt_tokens(full[:3], query) > need
    tiny = TokenBudgetExampleSelector(inner, fmt, max_tokens=3, tokenizer=words)
    assert tiny.select_examples(query) == []
    # With the real HF tokenizer and a prompt template for the rest of the prompt.
    hf = TokenBudgetExampleSelector(
        inner, fmt, max_tokens=60, tokenizer=emb.model.tokenizer, rest_template="Q: {question}\nA:"
    )
    got = hf.select_examples(query)
    assert got == full[: len(got)]
    assert hf.prompt_tokens(got, query) <= 60
    prompt = few_shot_prompt(example_selector=hf)
    assert prompt.format(**query).endswith("Q: How many apples?\nA:")


# ---------------------------------------------------------------- exact prefilter (large flat indexes)
class VectorTable(Embeddings):
    """Embeddings returning fixed vectors for the texts ``t0``, ``t1``, ... (no model)."""

    def __init__(self, vectors: np.ndarray, model_name: str = "vector-table"):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dimension = self.vectors.shape[1]
        self.model_name = model_name

    def embed_array(self, texts):
        return self.vectors[[int(t[1:]) for t in texts]]

    def embed_documents(self, texts):
        return self.embed_array(texts).tolist()

    def embed_query(self, text):
        return self.embed_array([text])[0].tolist()


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _table_selector(vectors, **kwargs):
    examples = [{"question": f"t{i}", "answer": str(i)} for i in range(len(vectors))]
    return SemanticExampleSelector(examples, embeddings=VectorTable(vectors), **kwargs)


def _brute_topk(vectors, q, k):
    scores = vectors @ q
    return np.sort(scores)[::-1][:k]


@pytest.mark.parametrize("kind", ["sq8", "bf16", "fp16"])
def test_prefilter_matches_exact_scan(kind):
    rng = np.random.default_rng(0)
    vectors = _unit(rng.standard_normal((3000, 48)))
    plain = _table_selector(vectors, k=8, prefilter=None)
    fast = _table_selector(vectors, k=8, prefilter=kind)
    assert plain._prefilter is None and fast._prefilter.kind == kind
    queries = _unit(rng.standard_normal((40, 48)))
    for q in queries:
        assert [r for r, _ in fast.search_by_vector(q)] == [r for r, _ in plain.search_by_vector(q)]
        got = [s for _, s in fast.search_by_vector(q, 5)]
        assert got == pytest.approx(list(_brute_topk(vectors, q, 5)), abs=1e-6)
    fast.mmr = plain.mmr = True
    assert fast.select_by_vector(queries[0]) == plain.select_by_vector(queries[0])


def test_prefilter_near_duplicates_fall_back_and_stay_exact():
    rng = np.random.default_rng(1)
    centre = _unit(rng.standard_normal((1, 32)))
    crowd = _unit(centre + rng.normal(0, 2e-3, (300, 32)))  # within the 8-bit error of each other
    vectors = np.concatenate([crowd, _unit(rng.standard_normal((700, 32)))])
    sel = _table_selector(vectors, k=8, prefilter="sq8")
    for q in _unit(centre + rng.normal(0, 1e-3, (10, 32))):
        hits = sel.search_by_vector(q)
        scores = [s for _, s in hits]
        assert len({r for r, _ in hits}) == 8 and scores == sorted(scores, reverse=True)
        assert scores == pytest.approx(list(_brute_topk(vectors, q, 8)), abs=1e-6)
        assert all(np.dot(vectors[r], q) == pytest.approx(s, abs=1e-6) for r, s in hits)
    assert sel._prefilter.range_fallbacks > 0  # the candidate list alone could not prove it


def test_prefilter_auto_threshold_incremental_and_rebuild(monkeypatch):
    import chainlab.selectors.semantic as semantic

    monkeypatch.setattr(semantic, "AUTO_MIN_VECTORS", 500)
    rng = np.random.default_rng(2)
    vectors = _unit(rng.standard_normal((1200, 24)))
    vectors[0], vectors[1] = np.eye(24)[0], -np.eye(24)[0]  # first build spans [-1, 1]
    vectors[1100:] *= 3.0  # outside the range the 8-bit copy is first trained on
    table = VectorTable(vectors)
    ex = [{"question": f"t{i}", "answer": str(i)} for i in range(len(vectors))]
    sel = SemanticExampleSelector(ex[:400], embeddings=table, k=4, normalize=False)
    assert sel._prefilter is None  # "auto" below the threshold
    sel.add_examples(ex[400:600])
    first = sel._prefilter
    assert first is not None and first.ntotal == 600
    sel.add_examples(ex[600:1100])
    assert sel._prefilter is first and first.ntotal == 1100  # incremental add
    sel.add_examples(ex[1100:])
    assert sel._prefilter is not first and sel._prefilter.ntotal == 1200  # retrained on all
    for q in _unit(rng.standard_normal((20, 24))):
        assert [s for _, s in sel.search_by_vector(q)] == pytest.approx(
            list(_brute_topk(vectors, q, 4)), abs=1e-5
        )


def test_prefilter_save_load_and_bad_values(tmp_path):
    rng = np.random.default_rng(3)
    vectors = _unit(rng.standard_normal((600, 16)))
    sel = _table_selector(vectors, k=3, prefilter="bf16")
    sel.save(tmp_path)
    assert json.loads((tmp_path / "meta.json").read_text())["index"]["prefilter"] == "bf16"
    table = VectorTable(vectors)
    loaded = SemanticExampleSelector.load(tmp_path, embeddings=table)
    assert loaded._prefilter.kind == "bf16" and loaded._prefilter.ntotal == 600
    q = vectors[5]
    assert loaded.search_by_vector(q) == sel.search_by_vector(q)
    assert loaded.select_examples({"question": "t5"})[0]["answer"] == "5"
    assert SemanticExampleSelector.load(tmp_path, embeddings=table, prefilter=None)._prefilter is None
    with pytest.raises(ValueError, match="prefilter"):
        SemanticExampleSelector.load(tmp_path, embeddings=table, prefilter="pq")
    with pytest.raises(ValueError, match="prefilter"):
        _table_selector(vectors, prefilter="int4")
    with pytest.raises(ValueError, match="dimension 8.*dimension 16"):
        sel.select_by_vector(np.ones(8, dtype=np.float32))
