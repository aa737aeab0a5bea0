"""Multi-hop retrieval over the index's knowledge graph, fused with hybrid retrieval (`retrieval.graph`).

A question whose answer needs two passages often names only the first: the second (the "bridge") shares an
entity with it, not words with the question. As in HippoRAG, the graph is bipartite, entities and passages, an
edge where an entity occurs in a passage (a triple's subject or object there: index/graph/store.py). A personalised
PageRank walks it from seeds: the entities the question names (matched by `entity_key` on their names and
aliases, weighted by specificity, 1 / their passage count) and the hybrid ranking's top passages (1 / rank). The
walk's passage ranking is fused with the hybrid one by weighted reciprocal rank fusion.

With `retrieval.graph_title_links`, each passage also links to the entity its title names, and, one way as a
hyperlink does, to the entity of every other passage title its text mentions: in Wikipedia-like corpora (HotpotQA,
MuSiQue) titles are entity names and a bridge passage is the one titled by an entity the first passage mentions.
These links come from the index's own titles and texts, so they cost no extraction; the matrix is built once per
graph version and index state and cached (scipy sparse: BENCHMARKS.md, "Multi-hop retrieval", has the timings).

The graph is read from the index layer (index/graph/: the store and the entity keys); what builds it
(graph/build.py, which runs the generator) is not imported here.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ragtune.ask.retriever import HybridRetriever, RetrievedPassage
from ragtune.config import RetrievalConfig
from ragtune.errors import RagtuneError, RagtuneWarning
from ragtune.index.backends import IndexBackend
from ragtune.index.graph.normalize import entity_key
from ragtune.index.graph.store import GraphStore

#: a token is a CJK character or a run of other non-space characters
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
#: the longest name matched, in tokens (words; CJK characters count one each)
MAX_NAME_TOKENS = 12


def name_tokens(text: str) -> list[str]:
    """`text` as `entity_key` normalises it, in tokens with their edge punctuation trimmed ("Munich," → munich)."""
    return [t for t in (_EDGE.sub("", tok) for tok in _TOKEN.findall(entity_key(text))) if t]


_QUALIFIER = re.compile(r"\s*\([^()]*\)$")


def title_forms(title: str) -> list[str]:
    """The names a passage title is mentioned by: itself, and without Wikipedia's qualifier ("Straight No
    Chaser (group)" → "Straight No Chaser") or its place after a comma ("Hilo, Hawaii" → "Hilo")."""
    forms = [title]
    bare = _QUALIFIER.sub("", title)
    if bare and bare != title:
        forms.append(bare)
    head = bare.split(",", 1)[0].strip()
    if head and head != bare:
        forms.append(head)
    return forms


def _linkable(form: str) -> bool:
    """Names too short to mean one thing ("he", "us") or bare numbers ("1998") are not matched in text: 3+
    characters, 2+ in Chinese."""
    chars = form.replace(" ", "")
    return len(chars) >= (2 if _CJK.search(chars) else 3) and not chars.isdigit()


class NameMatcher:
    """Finds the names a text mentions, as token sequences, in one pass: only maximal matches count, so
    "Ohio River" in a text does not also link "Ohio"."""

    def __init__(self, names: Iterable[tuple[str, int]]):
        self.forms: dict[str, set[int]] = {}
        for name, target in names:
            form = " ".join(name_tokens(name)[:MAX_NAME_TOKENS + 1])
            if form and len(form.split(" ")) <= MAX_NAME_TOKENS and _linkable(form):
                self.forms.setdefault(form, set()).add(target)
        self.firsts = {form.split(" ", 1)[0] for form in self.forms}
        self.longest = max((form.count(" ") + 1 for form in self.forms), default=0)

    def find(self, text: str) -> set[int]:
        tokens = name_tokens(text)
        spans: list[tuple[int, int, str]] = []
        for i, token in enumerate(tokens):
            if token not in self.firsts:
                continue
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                form = " ".join(tokens[i:i + n])
                if form in self.forms:
                    spans.append((i, i + n, form))
                    break  # the longest name starting here
        found: set[int] = set()
        reach = -1
        for _, end, form in sorted(spans, key=lambda s: (s[0], -s[1])):
            if end <= reach:
                continue  # inside a longer name found earlier
            reach = max(reach, end)
            found |= self.forms[form]
        return found


@dataclass
class EntityGraph:
    """The entity–passage graph as a column-stochastic sparse matrix: entities are nodes 0..E-1, passages E.."""

    entities: list[str]
    passage_ids: list[str]
    passage_rows: dict[str, int]  # passage id -> the index row of its first chunk
    walk: sp.csr_matrix  # W[i, j]: probability of stepping from node j to node i
    specificity: np.ndarray  # per entity: 1 / the number of passages it links to
    matcher: NameMatcher  # question text -> entity nodes

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    def passage_node(self, passage_id: str) -> int | None:
        at = self._passage_index.get(passage_id)
        return None if at is None else self.n_entities + at

    def __post_init__(self):
        self._passage_index = {pid: i for i, pid in enumerate(self.passage_ids)}


def build_graph(store: IndexBackend, graph: GraphStore | None, title_links: bool) -> EntityGraph:
    """The entity–passage graph of `graph`'s triples (none: titles alone) over the index's current passages."""
    passage_rows: dict[str, int] = {}
    titled: dict[str, list[str]] = {}  # passage id -> its title and chunk texts
    for row, passage in enumerate(store.passages):
        if passage.id not in passage_rows:
            passage_rows[passage.id] = row
            titled[passage.id] = [passage.title]
        titled[passage.id].append(passage.text)
    passage_ids = list(passage_rows)
    passage_at = {pid: i for i, pid in enumerate(passage_ids)}
    entity_at: dict[str, int] = {}
    names: list[tuple[str, int]] = []
    edges: set[tuple[int, int]] = set()

    def entity(key: str) -> int:
        if key not in entity_at:
            entity_at[key] = len(entity_at)
        return entity_at[key]

    if graph is not None:
        for key, pids in graph.entity_passages().items():
            node = entity(key)
            edges.update((node, passage_at[pid]) for pid in pids if pid in passage_at)
        for key, aliases in graph.entity_names().items():
            names += [(alias, entity(key)) for alias in aliases]
    mentioned: set[tuple[int, int]] = set()  # (entity, passage): the passage's text names the entity's title
    if title_links:
        titles = {pid: texts[0] for pid, texts in titled.items() if entity_key(texts[0])}
        title_nodes = {pid: entity(entity_key(title)) for pid, title in titles.items()}
        title_names = [(name, title_nodes[pid]) for pid, title in titles.items() for name in title_forms(title)]
        names += title_names
        edges.update((node, passage_at[pid]) for pid, node in title_nodes.items())
        mentions = NameMatcher(title_names)
        for pid, texts in titled.items():
            mentioned.update((node, passage_at[pid]) for node in mentions.find("\n".join(texts[1:])))
        mentioned -= edges
    n_entities, n = len(entity_at), len(entity_at) + len(passage_ids)
    # walk[i, j] > 0: a step from node j may go to node i. Triples and titles join an entity and a passage both
    # ways; a mention is a link from the passage to the entity only, as a hyperlink is (reversed, every passage
    # naming a popular entity would be one step from it, and the walk would spread to them rather than onward)
    both = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    one_way = np.array(sorted(mentioned), dtype=np.int64).reshape(-1, 2)
    rows = np.concatenate([both[:, 0], both[:, 1] + n_entities, one_way[:, 0]])
    cols = np.concatenate([both[:, 1] + n_entities, both[:, 0], one_way[:, 1] + n_entities])
    adjacency = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    adjacency.data[:] = 1.0  # an edge found twice (a triple and a title) counts once
    degree = np.asarray(adjacency.sum(axis=0)).ravel()  # out-degree of each node
    walk = (adjacency @ sp.diags(np.where(degree > 0, 1.0 / np.maximum(degree, 1), 0.0).astype(np.float32))).tocsr()
    specificity = 1.0 / np.maximum(degree[:n_entities], 1)
    return EntityGraph(list(entity_at), passage_ids, passage_rows, walk, specificity, NameMatcher(names))


def personalized_pagerank(walk: sp.csr_matrix, seeds: np.ndarray, damping: float, iterations: int) -> np.ndarray:
    """Stationary scores of a walk that follows an edge with probability `damping` and otherwise jumps back to a
    seed (columns of `seeds`: one distribution per query), by power iteration."""
    scores = seeds.copy()
    for _ in range(iterations):
        nxt = (1 - damping) * seeds + damping * (walk @ scores)
        if np.abs(nxt - scores).max(initial=0.0) < 1e-7:
            return nxt
        scores = nxt
    return scores


class _GraphCache:
    """The built graph of each index state, shared by every retriever over it (a server's snapshots, eval's
    pipelines): keyed by the index location, its passage count and the graph's version."""

    def __init__(self, size: int = 4):
        self.size, self.built, self.lock = size, {}, threading.Lock()

    def get(self, key: tuple, build: Callable[[], EntityGraph]) -> EntityGraph:
        with self.lock:
            if key not in self.built:
                if len(self.built) >= self.size:
                    self.built.pop(next(iter(self.built)))
                self.built[key] = build()
            return self.built[key]


GRAPHS = _GraphCache()


class GraphRetriever:
    """Hybrid retrieval plus a personalised PageRank over the graph, fused (the module docstring): the same
    `retrieve` / `retrieve_many` as HybridRetriever, so ask, eval and the server use it unchanged.

    `open_graph` opens the index's graph (None: no triples, title links alone).
    """

    def __init__(self, hybrid: HybridRetriever, open_graph: Callable[[], GraphStore | None], location: str | Path):
        self.hybrid, self.open_graph, self.location = hybrid, open_graph, str(location)

    @property
    def config(self) -> RetrievalConfig:
        return self.hybrid.config

    @property
    def store(self) -> IndexBackend:
        return self.hybrid.store

    def graph(self) -> EntityGraph:
        """The graph of the index as it is now (built on first use, then cached per version)."""
        graph = self.open_graph()
        try:
            version = graph.version() if graph is not None else None
            key = (self.location, len(self.store), version, self.config.graph_title_links)
            return GRAPHS.get(key, lambda: build_graph(self.store, graph, self.config.graph_title_links))
        finally:
            if graph is not None:
                graph.close()

    def retrieve(self, query: str, k: int | None = None, rerank: bool = True) -> list[RetrievedPassage]:
        return self.retrieve_many([query], k, rerank)[0]

    def retrieve_many(self, queries: list[str], k: int | None = None, rerank: bool = True
                      ) -> list[list[RetrievedPassage]]:
        c = self.config
        k = k or c.top_k
        hybrid = self.hybrid.retrieve_many(queries, max(k, c.graph_candidates), rerank)
        if not queries or len(self.store) == 0:
            return [ranked[:k] for ranked in hybrid]
        graph = self.graph()
        seeds = np.zeros((graph.walk.shape[0], len(queries)), np.float32)
        for column, (query, ranked) in enumerate(zip(queries, hybrid, strict=True)):
            seeds[:, column] = self.seeds(graph, query, ranked)
        scores = personalized_pagerank(graph.walk, seeds, c.graph_damping, c.graph_iterations)
        return [self._fuse(graph, ranked, scores[graph.n_entities:, column], k)
                for column, ranked in enumerate(hybrid)]

    def seeds(self, graph: EntityGraph, query: str, ranked: Sequence[RetrievedPassage]) -> np.ndarray:
        """The walk's restart distribution for one question: its named entities (most specific first) and its
        top hybrid passages, `graph_passage_seed_share` of the weight on the passages when both exist."""
        c = self.config
        seeds = np.zeros(graph.walk.shape[0], np.float32)
        entities = sorted(graph.matcher.find(query), key=lambda e: -graph.specificity[e])[:c.graph_seed_entities]
        top = list(dict.fromkeys(r.id for r in ranked))[:c.graph_seed_passages]
        nodes = [(node, 1.0 / rank) for rank, pid in enumerate(top, start=1)
                 if (node := graph.passage_node(pid)) is not None]
        share = c.graph_passage_seed_share if entities and nodes else (1.0 if nodes else 0.0)
        if entities:
            weights = graph.specificity[entities]
            seeds[entities] += (1 - share) * weights / weights.sum()
        if nodes:
            total = sum(w for _, w in nodes)
            for node, weight in nodes:
                seeds[node] += share * weight / total
        return seeds

    def _fuse(self, graph: EntityGraph, ranked: list[RetrievedPassage], walk_scores: np.ndarray, k: int
              ) -> list[RetrievedPassage]:
        """Weighted RRF of the hybrid ranking (weight 1) and the walk's top `graph_candidates` passages."""
        c = self.config
        best: dict[str, RetrievedPassage] = {}
        for item in ranked:
            best.setdefault(item.id, item)
        fused = {pid: 1.0 / (c.rrf_k + rank) for rank, pid in enumerate(best, start=1)}
        reached = np.flatnonzero(walk_scores > 0)
        order = reached[np.argsort(-walk_scores[reached], kind="stable")][:c.graph_candidates]
        for rank, at in enumerate(order.tolist(), start=1):
            pid = graph.passage_ids[at]
            fused[pid] = fused.get(pid, 0.0) + c.graph_weight / (c.rrf_k + rank)
        top = sorted(fused, key=lambda pid: -fused[pid])[:k]
        passages = self.store.passages
        out = []
        for pid in top:
            item = best.get(pid)
            if item is None:  # found by the walk alone: a neighbour of the question's entities, shown to the generator
                item = RetrievedPassage(passages[graph.passage_rows[pid]], 0.0, 0.0, 0.0, True)
            out.append(replace(item, score=fused[pid]))
        return out


def graph_retriever(hybrid: HybridRetriever, index_dir: str | Path) -> GraphRetriever:
    """`hybrid` fused with the graph of the index at `index_dir`. An index without a graph yet walks its title
    links alone (with a warning), or is a one-line error when `graph_title_links` is off."""
    if not GraphStore.exists(index_dir):
        build = f"`ragtune graph build --index {index_dir}`"
        if not hybrid.config.graph_title_links:
            raise RagtuneError(f"{index_dir}: retrieval.graph (--graph) needs the index's knowledge graph; build it "
                               f"with {build}")
        warnings.warn(RagtuneWarning(f"{index_dir}: no knowledge graph yet, so graph retrieval follows passage "
                                     f"titles alone ({build} adds the triples)"), stacklevel=2)
    return GraphRetriever(hybrid, lambda: GraphStore.open(index_dir), index_dir)
