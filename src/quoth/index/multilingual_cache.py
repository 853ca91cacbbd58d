"""The multilingual model's output for an index's texts, kept beside the index by each text's
hash (as simonw/llm skips re-embedding unchanged content), so a rebuild embeds only new text.

Three files: the pooled vectors of the sentences (embedded as passages), of the passages
(embedded as questions: see :mod:`quoth.retrieval.crosslingual_vectors`), and the latent
terms of the sentences. Each holds only the texts of the index last prepared, written whole
and renamed into place; a damaged file is ignored (and rebuilt), a file that cannot be
written costs time at the next start, never answers.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.multilingual_embedder import LatentTerms, MultilingualEmbedder

log = logging.getLogger("quoth.crosslingual")

_Row = tuple[npt.NDArray[np.generic], ...]


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


class _Store:
    """Rows of arrays (one row per text hash) in one ``.npz`` file."""

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        self.path = path
        self.fields = fields

    def rows(self, texts: list[str], compute: Callable[[list[str]], list[_Row]]) -> list[_Row]:
        keys = [_key(text) for text in texts]
        known = self._load()
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
        if missing:
            log.info("embedding %d new texts for questions in other languages", len(missing))
            known.update(
                zip((k for k, _ in missing), compute([t for _, t in missing]), strict=True)
            )
            try:
                self._save(keys, known)
            except OSError as error:
                log.warning("could not keep the cross-lingual vectors in %s: %s", self.path, error)
        return [known[k] for k in keys]

    def _load(self) -> dict[bytes, _Row]:
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path) as stored:
                columns = [stored[field] for field in self.fields]
                return dict(
                    zip(map(bytes, stored["keys"]), zip(*columns, strict=True), strict=True)
                )
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring a damaged cross-lingual cache %s: %s", self.path, error)
            return {}

    def _save(self, keys: list[bytes], known: dict[bytes, _Row]) -> None:
        current = list(dict.fromkeys(keys))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp.npz")
        columns: dict[str, npt.NDArray[np.generic]] = {
            field: np.stack([known[k][i] for k in current]) for i, field in enumerate(self.fields)
        }
        columns["keys"] = np.array(current, dtype="S16")
        np.savez(temporary, allow_pickle=False, **columns)
        temporary.replace(self.path)


class VectorCache:
    def __init__(self, folder: Path, model: str) -> None:
        self.folder = folder
        self.model = model
        self._vectors = _Store(folder / f"{model}-vectors.npz", ("vectors",))
        self._query_vectors = _Store(folder / f"{model}-query-vectors.npz", ("vectors",))
        self._terms = _Store(folder / f"{model}-terms.npz", ("indices", "weights"))

    def vectors(
        self, texts: list[str], embedder: MultilingualEmbedder, *, as_queries: bool = False
    ) -> Vectors:
        """Pooled vectors, embedded as passages or (``as_queries``) with the query prefix."""

        def compute(missing: list[str]) -> list[_Row]:
            found = embedder.encode_queries(missing) if as_queries else embedder.encode(missing)
            return [(row,) for row in found.astype(np.float16)]

        store = self._query_vectors if as_queries else self._vectors
        rows = store.rows(texts, compute)
        self._forget_older_formats()
        if not rows:
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        return np.stack([r[0] for r in rows]).astype(np.float32)

    def terms(self, texts: list[str], embedder: MultilingualEmbedder) -> LatentTerms:
        def compute(missing: list[str]) -> list[_Row]:
            found = embedder.latent_terms(missing)
            weights = found.weights.astype(np.float16)
            return list(zip(found.indices, weights, strict=True))

        rows = self._terms.rows(texts, compute)
        if not rows:
            return LatentTerms.stack([])
        return LatentTerms(
            np.stack([r[0] for r in rows]).astype(np.uint16),
            np.stack([r[1] for r in rows]).astype(np.float32),
        )

    def _forget_older_formats(self) -> None:
        current = {self._vectors.path, self._query_vectors.path, self._terms.path}
        for stale in self.folder.glob(f"{self.model}*.npz"):
            if stale not in current:
                stale.unlink(missing_ok=True)
