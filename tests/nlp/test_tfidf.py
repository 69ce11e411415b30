"""The numpy TF-IDF view equals the scikit-learn pipeline it was read from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS
from tipnlp.nlp.tfidf import TfidfArrays
from tipnlp.training.baselines import _fit_pipeline, _proba

TEXTS = [
    "Whoever traffics a person shall be punished by imprisonment of 5 years.",
    "Police arrested three suspected traffickers after a raid on a farm.",
    "The council discussed road repairs in the district.",
    "Victims shall receive shelter, medical care and legal aid.",
    "Officials accepted bribes to let the traffickers cross the border.",
    "A victim shall not be punished for unlawful acts the trafficker forced.",
]


def fitted(texts: list[str]) -> object:
    """A pipeline of the production shape fitted on ``texts`` (label j: text j mod 6)."""
    y = np.zeros((len(texts), len(LABELS)), dtype=int)
    for i in range(len(texts)):
        y[i, i % 6] = 1
    y[0, 7] = 1  # one more label, once
    return _fit_pipeline(texts, y, seed=13)


@pytest.fixture(scope="module")
def pipe() -> object:
    """Fitted on our sentences, each twice so min_df=2 keeps a vocabulary."""
    return fitted(TEXTS * 2)


def test_probabilities_equal_scikit_learn(pipe: object, tmp_path: Path) -> None:
    arrays = TfidfArrays.from_pipeline(pipe)
    loaded = TfidfArrays.load(arrays.save(tmp_path / "tfidf.npz"))
    probe = [
        *TEXTS,
        "",
        "   \n\t ",
        "UPPER case TEXT, punctuation!!! and   runs\n\nof  whitespace",
        "a",
        "Ünïcödé wörds: trata de personas, traite des êtres humains",
        "punished punished punished police police",
    ]
    want = _proba(pipe, probe)
    for model in (arrays, loaded):
        got = model.proba(probe)
        assert got.shape == (len(probe), len(LABELS))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # Labels never seen positive are the constant scikit-learn predicts.
    assert np.all(want[:, 13] == loaded.proba(probe)[:, 13])


def test_chunking_and_word_memo_change_nothing(pipe: object) -> None:
    arrays = TfidfArrays.from_pipeline(pipe)
    texts = [f"{t} {i}" for i, t in enumerate(TEXTS * 20)]
    whole = arrays.proba(texts)
    np.testing.assert_array_equal(arrays.proba(texts), whole)  # warm memo
    np.testing.assert_allclose(
        TfidfArrays.from_pipeline(pipe).decision(texts, chunk=7),
        TfidfArrays.from_pipeline(pipe).decision(texts),
        rtol=0,
        atol=1e-12,
    )


def test_equal_on_the_gold_sentences(gold_dir: Path) -> None:
    """Fitted on the train sentences, compared on the dev ones (real text, 14 labels)."""
    from tipnlp.training.data import label_matrix, load_gold

    train = load_gold(gold_dir / "train.jsonl")[:1500]
    dev = [e.text for e in load_gold(gold_dir / "dev.jsonl")]
    pipe = _fit_pipeline([e.text for e in train], label_matrix(train).astype(int), seed=13)
    got = TfidfArrays.from_pipeline(pipe).proba(dev)
    np.testing.assert_allclose(got, _proba(pipe, dev), rtol=0, atol=1e-10)


def test_unreadable_or_foreign_files_are_refused(pipe: object, tmp_path: Path) -> None:
    bad = tmp_path / "tfidf.npz"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(ModelError, match="cannot read TF-IDF arrays"):
        TfidfArrays.load(bad)
    np.savez(bad, version=np.array(99))
    with pytest.raises(ModelError, match="version"):
        TfidfArrays.load(bad)
    with pytest.raises(ModelError, match="unexpected shape"):
        TfidfArrays.from_pipeline(object())


def test_unsupported_vectorizer_settings_are_refused(pipe: object) -> None:
    import copy

    other = copy.deepcopy(pipe)
    other.steps[0][1].transformer_list[0][1].binary = True  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="not supported"):
        TfidfArrays.from_pipeline(other)


def test_tagging_imports_no_scikit_learn_or_torch(tmp_path: Path) -> None:
    """Loading the arrays and the NLP package pulls in neither (the start-up cost)."""
    code = (
        "import sys, json\n"
        "import tipnlp.nlp.rules, tipnlp.nlp.segment, tipnlp.nlp.tfidf, tipnlp.nlp.hybrid\n"
        "import thinc.compat\n"
        "print(json.dumps([m for m in ('sklearn', 'torch', 'transformers') if m in sys.modules]))\n"
        "import torch\n"  # still importable afterwards
        "print(torch.zeros(1).shape[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert json.loads(out[0]) == []
    assert out[1] == "1"
