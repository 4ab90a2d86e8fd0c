"""One CPU-bound process beside a benchmark (one core of two busy), like another worker or a build.

Shared by scripts/bench_editor.py and scripts/bench_browser.py: `with load(True): ...`.
"""

from __future__ import annotations

import multiprocessing
import time
from contextlib import contextmanager


def burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


@contextmanager
def load(enabled: bool):
    """Run the block with a busy-looping process beside it (nothing when `enabled` is false)."""
    if not enabled:
        yield
        return
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=burn, args=(stop,), daemon=True)
    proc.start()
    try:
        time.sleep(0.5)
        yield
    finally:
        stop.set()
        proc.join(timeout=5)
