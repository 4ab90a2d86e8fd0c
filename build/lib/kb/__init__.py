"""Firstline KB: a knowledge base and hybrid semantic search for first-line ISP support."""

__version__ = "0.1.0"
