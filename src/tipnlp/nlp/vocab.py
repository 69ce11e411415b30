"""One lean spaCy vocabulary shared by the rules' and the gazetteer's tokenizers.

A blank spaCy pipeline creates a lexeme for every new token string and
computes about twenty lexical attributes for it in Python (shape, prefix,
suffix, stop word, URL and e-mail tests ...).  On the gold documents that
was the costliest part of the rules and of the gazetteer: ~0.8 s of
``tipnlp tag``'s ~12 s, because both pipelines met the same words and each
built its own lexemes with every attribute.  Here both tokenizers share one
vocabulary that computes only the attributes they read:

* ``LOWER``: the rules' phrases and the gazetteer's uncased phrases;
* ``LIKE_NUM``: the rules' ``#``;
* ``IS_ALPHA``, ``IS_TITLE``: the gazetteer's person-name and US-state tests.

They also share one tokenizer, ``shared_nlp()`` (``spacy.blank("xx")``):
the gazetteer used ``spacy.blank("en")`` before and finds exactly the same
entities with ``xx`` on all 501 gold documents (its phrases are tokenized
by the same tokenizer as the text), so each chunk of text is split once.

Tokenization does not depend on lexical attributes (only on the language's
tokenizer rules and exceptions), so each pipeline splits text exactly as
its own ``spacy.blank(lang)`` does (tested).  The attribute functions are
spaCy's language-independent ones (``spacy.lang.lex_attrs``), the same
``spacy.blank("xx")`` uses; dropping the ``LANG`` attribute leaves the
vocabulary without a language, so pipelines of any language accept it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import spacy
from spacy.attrs import IS_ALPHA, IS_TITLE, LIKE_NUM, LOWER
from spacy.lang.lex_attrs import LEX_ATTRS
from spacy.language import Language
from spacy.vocab import Vocab

__all__ = ["KEPT_ATTRS", "blank", "shared_nlp", "shared_vocab"]

#: The lexical attributes the shared vocabulary computes (spaCy attribute ids).
KEPT_ATTRS: Final[frozenset[int]] = frozenset({LOWER, LIKE_NUM, IS_ALPHA, IS_TITLE})


@lru_cache(maxsize=1)
def shared_vocab() -> Vocab:
    """The shared vocabulary (built once per process; ``shared_vocab.cache_clear`` drops it)."""
    getters: dict[Any, Callable[[str], Any]] = {
        k: v for k, v in LEX_ATTRS.items() if k in KEPT_ATTRS
    }
    return Vocab(lex_attr_getters=getters)


def blank(lang: str) -> Language:
    """``spacy.blank(lang)`` on the shared vocabulary (the same tokenization)."""
    nlp = spacy.blank(lang, vocab=shared_vocab())
    nlp.max_length = 5_000_000
    return nlp


@lru_cache(maxsize=1)
def shared_nlp() -> Language:
    """The one ``xx`` tokenizer of the rules and the gazetteer (with its token cache).

    spaCy's tokenizer remembers how it split each whitespace-separated chunk,
    so a document the gazetteer tokenized costs the rules' per-sentence
    tokenization little: the splitting work (prefix, suffix and infix
    expressions per new chunk) is done once.  ``shared_nlp.cache_clear``
    drops it (with ``shared_vocab.cache_clear``).
    """
    return blank("xx")
