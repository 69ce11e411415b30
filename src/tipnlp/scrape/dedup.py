"""Duplicate detection: exact (same text hash) and near (MinHash LSH, datasketch).

The same wire story republished on ten sites differs by a dateline, a byline
and a footer; its word 5-shingle sets still overlap by far more than unrelated
stories do.  MinHash estimates that overlap (Jaccard similarity) from a fixed
signature per document, and LSH finds candidate pairs without comparing every
pair.  The first document seen keeps status ``ok``; later ones become
``duplicate`` with ``duplicate_of`` set.  Signatures of written documents are
kept in the scrape state, so duplicates are also found across runs.

Words are whitespace-separated tokens of the lower-cased text.  Shingles
are hashed without building their strings: CRC-32 per word, then a
rolling polynomial over five words in numpy (a 32-bit hash is what MinHash
needs).  The signature itself is computed in numpy as well, with exactly
datasketch's ``affine32`` arithmetic (MurmurHash3 finalizer, then
``a * h + b`` mod 2**32 per permutation, minimum over shingles): the same
values ``MinHash.update_batch`` gives, without its per-value Python loop.

Texts shorter than ``MIN_SHINGLES`` shingles skip near-duplicate detection:
short boilerplate pages would otherwise collapse into each other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash, MinHashLSH

SHINGLE_WORDS = 5
MIN_SHINGLES = 30
_SEED = 1
#: Odd multiplier of the rolling shingle hash (mod 2**32).
_ROLL = 1_000_003
#: Stated explicitly: stored signatures are only comparable within one scheme.
_SCHEME = "affine32"
#: Shingles per block when applying the permutations (bounds memory on long texts).
_BLOCK = 4096
_U32 = np.uint32


def _identity(value: int) -> int:
    """Shingles arrive already hashed."""
    return value


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix for ``affine32``)."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's optimal LSH bands and rows for ``threshold``, computed once per process.

    ``MinHashLSH`` finds them by numerical integration over every (bands,
    rows) pair, about 20 ms of CPU, on every construction; an ingest run builds
    one ``Deduper``, so a run of a few pages (a daily feed) paid that each time.
    Passing the same pair back as ``params`` gives an identical index.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


@lru_cache(maxsize=16)
def _permutations(num_perm: int) -> np.ndarray:
    """The ``(a, b)`` permutation array for ``num_perm`` (seeded: the same every time).

    Read-only, since every ``MinHash`` of every ``Deduper`` in the process shares it.
    """
    perms: np.ndarray = MinHash(
        num_perm=num_perm, seed=_SEED, scheme=_SCHEME, hashfunc=_identity
    ).permutations
    perms.setflags(write=False)
    return perms


@dataclass
class Match:
    """Why a document is a duplicate."""

    duplicate_of: str
    kind: str  # "exact" or "near"
    similarity: float

    def message(self) -> str:
        """Human-readable note for the ``error`` column."""
        if self.kind == "exact":
            return f"same text as {self.duplicate_of}"
        return f"near duplicate of {self.duplicate_of} (estimated Jaccard {self.similarity:.2f})"


class Deduper:
    """Remembers documents and tells whether a new one duplicates an earlier one."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self._hashes: dict[str, str] = {}
        self._lsh = MinHashLSH(
            threshold=threshold, num_perm=num_perm, params=lsh_params(threshold, num_perm)
        )
        self._sigs: dict[str, MinHash] = {}
        self._order: dict[str, int] = {}
        self._keys: dict[str, str | None] = {}
        # computed once per process: every signature uses the same permutations
        self._perms = _permutations(num_perm)

    def signature(self, text: str) -> MinHash | None:
        """MinHash of the text's word 5-shingles; None when the text is too short.

        Each word is hashed once (CRC-32) and the hashes of five consecutive
        words are combined with a polynomial rolling hash in numpy, which is
        several times faster than hashing every joined shingle string.
        """
        words = text.lower().encode("utf-8").split()
        n = len(words) - SHINGLE_WORDS + 1
        if n < MIN_SHINGLES:
            return None
        word_hashes = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
        acc = np.zeros(n, dtype=np.uint64)
        for j in range(SHINGLE_WORDS):
            acc = (acc * np.uint64(_ROLL) + word_hashes[j : j + n]) & np.uint64(0xFFFFFFFF)
        values = np.unique(acc)
        if len(values) < MIN_SHINGLES:
            return None
        return MinHash(
            seed=_SEED,
            scheme=_SCHEME,
            hashfunc=_identity,
            hashvalues=self._min_hashes(values.astype(_U32)),
            permutations=self._perms,
        )

    def _min_hashes(self, values: np.ndarray) -> np.ndarray:
        """Per permutation, the least ``a * fmix32(v) + b`` (mod 2**32) over ``values``."""
        a, b = self._perms
        mixed = _fmix32(values)
        out = np.full(self.num_perm, np.iinfo(_U32).max, dtype=_U32)
        for start in range(0, len(mixed), _BLOCK):
            block = mixed[start : start + _BLOCK, None] * a + b
            np.minimum(out, block.min(axis=0), out=out)
        return out

    def check(
        self, content_sha256: str, signature: MinHash | None, key: str | None = None
    ) -> Match | None:
        """The earlier document this one duplicates, if any (does not add it).

        Earlier versions of the same page (same ``key``) are not duplicates: an
        amended statute must not vanish as a near copy of its old text.
        """
        exact = self._hashes.get(content_sha256)
        if exact is not None and (key is None or self._keys.get(exact) != key):
            return Match(exact, "exact", 1.0)
        if signature is None or not self._sigs:
            return None
        best: tuple[float, int, str] | None = None
        for cand in self._lsh.query(signature):
            if key is not None and self._keys.get(cand) == key:
                continue
            sim = float(signature.jaccard(self._sigs[cand]))
            if sim >= self.threshold:
                rank = (sim, -self._order[cand], cand)
                if best is None or rank > best:
                    best = rank
        return Match(best[2], "near", best[0]) if best else None

    def add(
        self,
        doc_id: str,
        content_sha256: str,
        signature: MinHash | None,
        key: str | None = None,
    ) -> None:
        """Remember an original (non-duplicate) document of page ``key``."""
        self._keys[doc_id] = key
        self._hashes.setdefault(content_sha256, doc_id)
        if signature is not None and doc_id not in self._sigs:
            self._sigs[doc_id] = signature
            self._order[doc_id] = len(self._order)
            self._lsh.insert(doc_id, signature)

    def add_known_hash(self, content_sha256: str, doc_id: str, key: str | None = None) -> None:
        """Remember the text hash of a document written in an earlier run."""
        self._keys.setdefault(doc_id, key)
        self._hashes.setdefault(content_sha256, doc_id)

    def to_bytes(self, signature: MinHash) -> bytes:
        """Serialise a signature for the scrape state."""
        return np.asarray(signature.hashvalues, dtype=np.uint64).tobytes()

    def from_bytes(self, data: bytes) -> MinHash:
        """Rebuild a signature stored with ``to_bytes``."""
        values = np.frombuffer(data, dtype=np.uint64)
        perms = self._perms if len(values) == self.num_perm else None
        return MinHash(
            seed=_SEED,
            hashvalues=values,
            scheme=_SCHEME,
            hashfunc=_identity,
            permutations=perms,
        )
