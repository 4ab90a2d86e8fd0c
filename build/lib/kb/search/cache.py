"""Embedding cache: vectors keyed by a hash of (model, text), so unchanged chunks are not re-embedded."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """One file per model under index/cache/, rewritten atomically on save."""

    def __init__(self, folder: Path, model_name: str, dim: int):
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_")[-80:] or "model"
        self.path = Path(folder) / f"{slug}-{dim}.npz"
        self.dim = dim
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.exists():
            try:
                data = np.load(self.path, allow_pickle=False)
                if data["vectors"].shape[1:] == (dim,):
                    self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except (OSError, ValueError, KeyError):
                self._vectors = {}  # a damaged cache only costs re-embedding

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key)

    def put(self, key: str, vector: np.ndarray) -> None:
        self._vectors[key] = np.asarray(vector, dtype=np.float32)
        self._dirty = True

    def prune(self, keep: set[str]) -> None:
        """Forget vectors of texts no longer in the knowledge base."""
        stale = set(self._vectors) - keep
        for key in stale:
            del self._vectors[key]
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._vectors)
        vectors = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, keys=np.array(keys, dtype="U64"), vectors=vectors)
        os.replace(tmp, self.path)
        self._dirty = False
