"""The hybrid tagger's embedding views: the document view pools whole documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tipnlp.nlp.hybrid import document_view, embedding_features, item_features
from tipnlp.nlp.types import SentenceInput


class _CountingBackend:
    """Embeds a string as a fixed pseudo-random unit vector; counts encoded strings."""

    name = "fake"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        self.encoded.extend(texts)
        rows = []
        for t in texts:
            v = np.random.default_rng(sum(map(ord, t)) + len(t)).normal(size=6)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


def test_document_view_pools_sentences_of_the_same_document() -> None:
    s = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [0.0, 2.0]], dtype=np.float32)
    d = document_view(s, ["a", "b", "a", None])
    want_a = np.array([4.0, 4.0]) / np.linalg.norm([4.0, 4.0])
    assert np.allclose(d[0], want_a) and np.allclose(d[2], want_a)
    assert np.allclose(d[1], [0.0, 1.0])  # a one-sentence document is its sentence
    assert np.allclose(d[3], [0.0, 1.0])  # no key: a document of its own
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    # the order of the documents in the batch does not matter
    perm = [3, 1, 2, 0]
    assert np.allclose(document_view(s[perm], [["a", "b", "a", None][i] for i in perm]), d[perm])
    # two keyless sentences are not pooled together; zero vectors stay zero
    z = document_view(np.array([[1.0, 0.0], [0.0, 0.0]]), [None, None])
    assert np.allclose(z, [[1.0, 0.0], [0.0, 0.0]])
    assert document_view(np.zeros((0, 3)), []).shape == (0, 3)


def test_embedding_features_adds_the_document_view_without_encoding_more() -> None:
    items = [
        SentenceInput("Police arrested three men.", title="Raid", doc="d1"),
        SentenceInput(
            "They were charged with trafficking.",
            prev="Police arrested three men.",
            title="Raid",
            doc="d1",
        ),
        SentenceInput("Police arrested three men.", title="Burglary", doc="d2"),
    ]
    texts, prevs, titles, docs = item_features(items)
    assert docs == ["d1", "d1", "d2"]
    backend = _CountingBackend()
    three = embedding_features(backend, texts, prevs, titles)
    n_three = len(backend.encoded)
    four = embedding_features(backend, texts, prevs, titles, docs)
    assert three.shape == (3, 18) and four.shape == (3, 24)
    assert len(backend.encoded) == 2 * n_three  # no extra encoder input for the view
    assert np.array_equal(four[:, :18], three)
    # the same sentence reads differently in a trafficking story and in a burglary story
    assert np.array_equal(four[0, :6], four[2, :6])
    assert not np.allclose(four[0, 18:], four[2, 18:])
    # sentences of one document share its view
    assert np.array_equal(four[0, 18:], four[1, 18:])
