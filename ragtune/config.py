"""One typed config with every default in one place; YAML files and the CLI only override it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragtune.errors import RagtuneError
from ragtune.files import read_regular


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadConfig(_Section):
    """Limits on what one input file may cost `read`: anything past them is that file's one-line error."""

    #: largest file read at all
    max_file_mb: float = Field(200.0, gt=0)
    #: zip-based formats (DOCX): total uncompressed size and uncompressed/compressed ratio (zip bombs)
    max_unzipped_mb: float = Field(500.0, gt=0)
    max_zip_ratio: float = Field(200.0, gt=1)
    #: element/bracket nesting of HTML and JSON documents
    max_depth: int = Field(256, gt=0)
    #: passages one file may add
    max_passages_per_file: int = Field(200_000, gt=0)


class ChunkingConfig(_Section):
    """How documents are cut into passages (sizes in approximate tokens: a CJK char or a word)."""

    chunk_size: int = Field(400, gt=16)
    chunk_overlap: int = Field(48, ge=0)


class EmbedderConfig(_Section):
    """Which encoder turns passages and queries into vectors."""

    name: str = "use-multilingual"
    batch_size: int = Field(64, gt=0)
    threads: int = Field(2, gt=0)
    query_prefix: str = ""
    passage_prefix: str = ""


class IndexConfig(_Section):
    """Persistent index layout: dense backend and BM25 parameters."""

    #: where the index lives: "embedded" (files in the --index folder); an --index URL (postgresql://...) picks
    #: its own backend by scheme
    backend: str = "embedded"
    vector_backend: str = "flat"
    #: script normalisation of what BM25 and the embedder see ("t2s": Traditional -> Simplified Chinese with
    #: OpenCC; "none"); stored and shown text is unchanged. Fixed per index when it is created
    script: str = "t2s"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    #: `read` embeds and saves a snapshot every this many new passages: a kill loses at most one batch (~80 s of
    #: embedding on 2 cores) and memory for new passages is bounded by it; each save rewrites the whole index,
    #: so a much larger corpus may want a larger batch
    save_every_passages: int = Field(10_000, gt=0)
    #: embedded backend: vectors past the last HNSW graph are searched exactly; when this many have gathered a
    #: graph is built over them, so an index smaller than this is always searched exactly (STACK.md: exact search
    #: is fast enough below ~100k passages)
    exact_below: int = Field(50_000, gt=0)
    #: HNSW graph shape (faiss IndexHNSWFlat): links per node and build beam width
    hnsw_m: int = Field(32, gt=1)
    hnsw_ef_construction: int = Field(64, gt=0)
    #: search beam (read at open, so it can change without a rebuild): at 10^6 synthetic passages with near-tied
    #: scores, 1536 finds 98.6% of the exact top 10 at a hybrid p50 of 15 ms (512: 94.2% / 11 ms, 2048: 99.0% /
    #: 21 ms; at 10^5, 512 already finds 99%; BENCHMARKS.md "Embedded index at scale")
    hnsw_ef_search: int = Field(1536, gt=0)
    #: more HNSW graphs than this are merged into one when a write adds another
    max_vector_segments: int = Field(8, gt=0)
    #: a write compacts the embedded index (as `ragtune index optimize` does) when deleted passages still held by
    #: its engines exceed this share of them (they skew BM25 statistics and cost memory until then)
    compact_dead_share: float = Field(0.25, gt=0, le=1)


class GeneratorRerankConfig(_Section):
    """generator-ql: how much of the fused list the generator re-scores, and when (each candidate is an LLM pass)."""

    #: fused top candidates re-scored (5: ~2.5 s a question on 2 CPU cores; 20: ~30 s)
    candidates: int = Field(5, gt=1)
    #: rerank only when the fused leader's lead over the next document is below this share of its score
    #: (CMRC dev: 0.25 reranks 14% of questions and 64 of the 65 whose gold passage is in the top 5 but not
    #: first); None reranks every question
    margin: float | None = Field(0.25, gt=0)
    #: passage tokens shown to the generator (longer passages are cut), bounding each pass
    max_passage_tokens: int = Field(256, gt=16)


class CrossEncoderRerankConfig(_Section):
    """The English cross-encoder: when it reranks (each question costs ~0.8 CPU seconds for 20 candidates)."""

    #: rerank only when the fused leader's lead over the next document is below this share of its score; None
    #: (default) reranks every English question. 0.15 spent it on 27% of SQuAD questions with recall@1 unchanged
    #: and on 46% of SciFact's with it higher, but multi-hop questions need the second passage moved up whatever
    #: the leader's lead (HotpotQA recall@5 0.72 -> 0.65): a serving setting for single-passage questions
    #: (BENCHMARKS.md, "Gating the cross-encoder")
    margin: float | None = Field(None, gt=0)


class RetrievalConfig(_Section):
    """How ask finds passages: candidates from each retriever, fused, cut to top_k."""

    top_k: int = Field(5, gt=0)
    candidates: int = Field(50, gt=0)
    #: longest question ask and retrieve accept, in characters (a longer one is an error, not a slow search)
    max_question_chars: int = Field(2000, gt=0)
    #: a follow-up question (one asked after earlier turns) is searched as: "rewrite" (the generator rewrites it
    #: into a standalone question, ask/followup.py), "concat" (after the previous user turn) or "none" (as asked)
    followups: str = Field("rewrite", pattern="^(rewrite|concat|none)$")
    #: "linear" (min-max normalised weighted sum) beat weighted RRF on CMRC and SQuAD: see BENCHMARKS.md
    fusion: str = "linear"
    rrf_k: int = 60
    bm25_weight: float = 1.0
    #: None: the embedder's own measured weight (USE 0.4, BGE and sentence-transformers 1.0; BENCHMARKS.md)
    dense_weight: float | None = None
    #: below this cosine, with no BM25 term match, a passage counts as irrelevant
    min_dense_score: float = 0.25
    #: reranker of the fused top candidates: "auto" (the packaged one per question language: the ms-marco
    #: cross-encoder for English, "generator-ql" for Chinese), "none", or one name for every language it covers
    #: (others keep the fused order). No packaged cross-encoder reads Chinese; generator-ql scores a passage by
    #: the generator's likelihood of the question: on CMRC it put the gold paragraph first for 31 of 40
    #: questions the fused order missed at rank 1 and broke none of 60 it had right, at ~0.4 s per Chinese
    #: question on average, as it reranks only unsure ones (generator_rerank; BENCHMARKS.md)
    reranker: str = "auto"
    #: the reranker of Chinese questions ("none" or a name); None: as `reranker` says
    reranker_zh: str | None = None
    rerank_candidates: int = Field(20, gt=0)
    cross_encoder: CrossEncoderRerankConfig = CrossEncoderRerankConfig()
    generator_rerank: GeneratorRerankConfig = GeneratorRerankConfig()
    #: multi-hop retrieval over the index's knowledge graph (`ragtune graph build`; ask/eval --graph): the
    #: question's entities and the top hybrid passages seed a personalised PageRank over the entity–passage graph,
    #: whose ranking is fused with the hybrid one (ask/graph_retrieval.py; BENCHMARKS.md, "Multi-hop retrieval")
    graph: bool = False
    #: PageRank's probability of following an edge rather than jumping back to a seed (HippoRAG uses 0.5)
    graph_damping: float = Field(0.5, gt=0, lt=1)
    graph_iterations: int = Field(30, gt=0)
    #: entities named in the question that seed the walk, most specific (fewest passages) first
    graph_seed_entities: int = Field(10, ge=0)
    #: the hybrid ranking's top passages also seed the walk (weighted 1/rank), so the graph expands around what
    #: retrieval found even when no entity of the question is in the graph. Tuned on the HotpotQA *train* sample
    #: (all-supporting recall@5: 5 seeds 0.73, 1 seed 0.94, none 0.89; hybrid alone 0.67)
    graph_seed_passages: int = Field(1, ge=0)
    #: share of the seed weight on those passages when the question also names entities (the rest on entities)
    graph_passage_seed_share: float = Field(0.5, ge=0, le=1)
    #: a passage links to the entity its title names, and to every entity whose title-name its text mentions
    #: (Wikipedia-like corpora: a bridge passage is the one titled by an entity another passage mentions)
    graph_title_links: bool = True
    #: passages of the graph's ranking that enter the fusion, and its weight in the weighted RRF (hybrid: 1)
    graph_candidates: int = Field(20, gt=0)
    graph_weight: float = Field(1.0, ge=0)


class GeneratorConfig(_Section):
    """Which LLM answers, and how it decodes."""

    name: str = "qwen2.5-0.5b-instruct"
    #: how answers are made from the passages: "generative" (free generation, asked for a short cited answer),
    #: "extractive" (constrained decoding: a verbatim span of a passage, then its citation, or "I don't know"),
    #: "reader" (a `train reader` span reader given with --adapter: its best span over the passages), or "auto":
    #: the reader when one is given, else generative (BENCHMARKS.md, reader quality)
    answer_mode: str = Field("auto", pattern="^(auto|generative|extractive|reader)$")
    #: reader mode: longest span, in tokens, the span reader may answer
    reader_max_answer_tokens: int = Field(48, gt=0)
    #: reader mode: weight of a passage's retrieval score (min-max scaled over the top-k: 0–1) added to its best
    #: span's score (start + end logits), so a well-retrieved passage wins a close call; None: the weight
    #: `train reader` fitted on its held-out questions (1.0 for a reader without one)
    reader_retrieval_weight: float | None = Field(None, ge=0)
    max_new_tokens: int = Field(96, gt=0)
    #: what decodes: "torch" (transformers; the training path and the reference), "openvino" (OpenVINO GenAI on
    #: the packaged generators, converted once; runtime LoRA), or "auto": the fastest installed backend that
    #: supports what is asked (the model, the adapter, constrained decoding), else torch (BENCHMARKS.md, backends)
    backend: str = Field("auto", pattern="^(auto|torch|openvino)$")
    #: openvino: weight precision of the converted model ("int8": 8-bit weights; "int4": 4-bit, faster, drifts
    #: more; "f16": 16-bit weights and float32 arithmetic, the reference the others are measured against)
    precision: str = Field("int8", pattern="^(int8|int4|f16)$")
    #: openvino: precision of the attention key/value cache ("auto": the plugin's choice, u8 on x86 CPUs). "f16"
    #: keeps more of each cached key, so near-ties decode as torch's do: on 500 CMRC questions F1 39.79 against
    #: torch's 39.85 (u8: 40.12 and 39.29 in two runs), at the same decode speed (BENCHMARKS.md, backends)
    kv_cache_precision: str = Field("f16", pattern="^(auto|u8|f16|bf16|f32)$")
    #: openvino: prompt-lookup decoding: up to this many tokens a step are drafted by finding the answer's last
    #: words in the prompt and copying what follows them (answers quote their passages), and the model checks
    #: them all in one pass: the greedy answer is the same, its decoding up to this many times faster on a
    #: single stream (BENCHMARKS.md, backends). 0: off. Beams and samples decode on a second, plain pipeline
    prompt_lookup: int = Field(5, ge=0)
    #: prompt lookup: the longest run of the answer's last tokens searched for in the prompt
    prompt_lookup_ngram: int = Field(3, gt=0)
    #: "auto": the first CUDA GPU when torch sees one, else the CPU; or a torch device ("cpu", "cuda:1").
    #: Training runs where generation does.
    device: str = "auto"
    #: "auto": bfloat16 where the device computes it natively (bf16 GPUs, CPUs with AVX512-BF16/AMX), else float32
    #: (on other CPUs bf16 generates ~5x slower); or any torch dtype name
    dtype: str = "auto"
    batch_size: int = Field(8, gt=0)
    #: prompts a server decodes together, each streaming its own answer (1: one request at a time)
    decode_batch: int = Field(16, gt=0)
    max_passage_tokens: int = Field(320, gt=16)
    threads: int | None = None


class EvalConfig(_Section):
    """How answers are scored (ragtune eval and the held-out evaluations inside training)."""

    #: "auto": each question's own language picks the metric (CMRC 2018 character-level for Chinese questions,
    #: whatever their reference looks like: "308", "DC"; SQuAD v1.1 words for others); "zh"/"en": one metric for
    #: every question of the data
    metric_language: str = Field("auto", pattern="^(auto|zh|en)$")
    #: summaries: a sentence counts as supported by its source when this share of its unit bigrams occur there
    #: (eval/faithfulness.py)
    faithfulness_threshold: float = Field(0.6, gt=0, le=1)


class SummarizeConfig(_Section):
    """`ragtune summarize`, `eval --task summarize` and `train generator --task summarize`: one prompt for all three."""

    #: how long a summary is asked to be: a named length from `lengths`
    length: str = Field("medium", pattern="^(short|medium|long)$")
    #: sentences the prompt asks for at each length
    lengths: dict[str, int] = {"short": 1, "medium": 3, "long": 6}
    #: generator.max_new_tokens at each length (a summary is cut there)
    length_tokens: dict[str, int] = {"short": 64, "medium": 160, "long": 320}
    #: most prompt tokens of one summarizing pass, below the generator's own window (Qwen2.5: 32k) because a CPU
    #: prefill grows with it; a longer document is summarized map-reduce: its pieces, then their summaries
    max_input_tokens: int = Field(1536, gt=64)
    #: units (CJK characters, words) of a map piece to start from; shrunk until each map prompt fits
    chunk_units: int = Field(900, gt=16)
    #: reduce rounds before giving up (each round must shorten the text)
    max_rounds: int = Field(4, gt=0)
    #: query-focused summaries: passages retrieved (None: retrieval.top_k)
    top_k: int | None = Field(None, gt=0)
    #: `train generator --task summarize`: keep only the target sentences whose unit bigrams occur in the document
    #: at least this much (eval's faithfulness measure) and skip pairs left with none, so an adapter does not learn
    #: to write what its document does not say (reference summaries are often written from more than the text
    #: given). At 0.6 tuning raised ROUGE-L and faithfulness on both CSL and CNN/DailyMail, where the references
    #: as given lowered faithfulness (BENCHMARKS.md, Summaries); None: train on the references as given
    train_min_support: float | None = Field(0.6, gt=0, le=1)


class ExtractConfig(_Section):
    """Triple extraction (`train generator --task extract`, `eval --task extract`): one prompt for both."""

    #: a schema file (DuIE's, or {"predicates": [...]}) whose predicates the prompt lists and the parser keeps;
    #: None: any predicate
    schema_file: str | None = None
    #: generator.max_new_tokens of an extraction (a long list of triples is cut there)
    max_new_tokens: int = Field(192, gt=0)
    #: units (CJK characters, words) of a text given to one extraction prompt; a longer one is cut
    max_text_units: int = Field(400, gt=16)
    #: drop triples whose subject or object the text does not contain (entity keys, punctuation aside): fewer
    #: invented names, at the cost of gold names the text spells differently (BENCHMARKS.md, KG extraction)
    grounded: bool = False
    #: order of a training target's triples: "given" keeps the data's; "text" sorts them by where their subject
    #: (then object) first appears in the text, one order to learn -- measured on DuIE it made the model write more
    #: triples, not more right ones (48.5 -> 44.1 test F1; BENCHMARKS.md, KG extraction), so it is not the default
    target_order: Literal["given", "text"] = "given"
    #: how an extraction is decoded: "greedy" (one pass), or several `candidates` voted on -- "sample" (samples at
    #: `temperature`/`top_p`, repeatable by `seed`: self-consistency) or "beam" (the best beams of a beam search).
    #: A triple is kept when at least `min_votes` candidates write it: together they find the second and third
    #: rows one greedy pass stops before, and the vote drops what one alone invents. "auto": sample with a
    #: generator adapter, greedy without -- an untuned model's candidates write one fact differently ("Eiffel
    #: Tower" / "The Eiffel Tower"), so the vote would drop it. Measured on tuned DuIE and WebNLG extractors
    #: (BENCHMARKS.md, KG extraction): 5 samples beat greedy on both sets' held-out slices and test splits at
    #: 1.0-1.6x its time; 4 beams gained on both test splits but lost on WebNLG's held-out slice, at 2.4-2.7x.
    #: Training's held-out score is greedy.
    decoding: Literal["auto", "greedy", "beam", "sample"] = "auto"
    #: candidates voted on (None: 5 samples, or 4 beams: what was measured)
    candidates: int | None = Field(None, ge=2, le=32)
    #: votes a triple needs among the candidates (None: at least half of them)
    min_votes: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0


class GraphConfig(_Section):
    """The knowledge graph of an index (`ragtune graph ...`): triples the generator extracts from each passage, with
    the `extract:` settings (the prompt, length and schema that `--task extract` trains and scores)."""

    #: `read` (and `read --delete`) on an index that has a graph brings the graph up to date: triples of removed
    #: or changed passages dropped, new and changed passages extracted (with the settings the graph was built with)
    update_on_read: bool = True
    #: passages extracted per step of the progress bar (each step's answers are cached as it ends)
    step_passages: int = Field(64, gt=0)
    #: `graph show` and the server: hops around the entity, and the most triples shown
    hops: int = Field(1, ge=0, le=3)
    max_edges: int = Field(200, gt=0)


class _ScheduleConfig(_Section):
    """What every LoRA training run shares: seed, AdamW learning rate, warmup, linear decay, clipping, run length."""

    seed: int = 0
    #: learning rate of the generator's LoRA
    lr: float = Field(2e-4, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    epochs: float = Field(1.0, gt=0)
    #: optimizer steps; overrides epochs when set
    max_steps: int | None = Field(None, gt=0)
    #: dtype the frozen base weights are held in while the LoRA (always float32) trains: "bfloat16" halves
    #: their memory and spares bf16 autocast casting them at every step; "auto": bfloat16 when bf16 autocast is
    #: on (bf16 is set or the hardware computes it natively), else float32
    frozen_dtype: str = Field("auto", pattern="^(auto|float32|bfloat16)$")
    #: recompute each layer's activations in the backward pass instead of keeping them: a LoRA step of 8 RAFT
    #: prompts in micro-batches of 4 peaked at 5.8 GB instead of 11.6, at 1.6x the step time (BENCHMARKS.md,
    #: training memory); on for joint runs, whose passes hold a question's k prompts together
    gradient_checkpointing: bool = True


class TrainConfig(_ScheduleConfig):
    """Fine-tuning the generator with LoRA on retrieved passages (RAFT-style: gold + distractors)."""

    #: passages per training prompt; None: retrieval.top_k, so training prompts look like ask's
    top_k: int | None = Field(None, gt=0)
    #: how deep to search the retrieved list for the gold passage and for distractors
    retrieve_depth: int = Field(20, gt=0)
    #: chance that a prompt contains the gold passage; otherwise only distractors
    gold_probability: float = Field(0.8, ge=0.0, le=1.0)
    #: what a prompt without the gold passage teaches: "answer" (RAFT: the answer anyway, uncited, so the model
    #: learns the domain) or "idk" (abstain). "idk" made a SQuAD-tuned model abstain on 28% of test questions
    #: whose gold passage it had been given (BENCHMARKS.md)
    no_gold_target: str = Field("answer", pattern="^(answer|idk)$")
    #: train only on answers of at most this many units (CJK characters, words; synth's limit too), as ask's
    #: prompt asks for the shortest correct answer: CMRC's long training answers taught an adapter long answers
    #: (BENCHMARKS.md). Questions with only longer answers are skipped (train generator and joint); None: keep all
    max_answer_units: int | None = Field(12, gt=0)
    #: tokens per training sequence; longer prompts have their passages shortened, the answer is kept
    max_length: int = Field(1024, gt=16)
    lora_rank: int = Field(8, gt=0)
    lora_alpha: int = Field(16, gt=0)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    weight_decay: float = Field(0.0, ge=0)
    #: sequences per forward pass; one at a time (times grad_accum per optimizer step) keeps a step of 8 RAFT
    #: prompts at 4.5 GB peak without recomputing activations, at the CPU time of 4 at once (BENCHMARKS.md,
    #: training memory); the gradient is the same sum either way
    batch_size: int = Field(1, gt=0)
    grad_accum: int = Field(8, gt=0)
    #: with one sequence per pass the activations are small: recomputing them would cost 1.3x the CPU time
    gradient_checkpointing: bool = False
    #: batches per length bucket: examples are sorted by length inside shuffled buckets of this many batches
    bucket_batches: int = Field(16, gt=0)
    #: pad each batch to a multiple of this many tokens (1: to its longest sequence). Few widths keep oneDNN's
    #: cache of a primitive per input shape small over a long run of varying lengths (BENCHMARKS.md, training
    #: heap)
    pad_multiple: int = Field(1, gt=0)
    #: bf16 autocast (about 2x faster on CPUs with avx512_bf16/AMX, over 10x slower without; LoRA weights stay
    #: float32); None: on only where the CPU computes bf16 natively
    bf16: bool | None = None
    eval_every: int = Field(50, gt=0)
    #: score the held-out slice before the first step too, so the history starts at the base model's score and a
    #: run that never beats it keeps the step-0 adapter (a no-op: LoRA starts at zero)
    eval_at_start: bool = True
    #: held-out share of questions (at least one when there are two or more); eval_size overrides it
    eval_fraction: float = Field(0.1, ge=0, lt=1)
    eval_size: int | None = Field(None, ge=0)
    eval_batch_size: int = Field(8, gt=0)
    eval_max_new_tokens: int = Field(32, gt=0)
    #: evaluations without a better F1 before stopping early
    patience: int = Field(3, gt=0)
    #: checkpoint every this many steps (and at the end, and on Ctrl-C)
    save_every: int = Field(50, gt=0)


class ReaderTrainConfig(_Section):
    """`train reader`: a span head on the generator's hidden states, LoRA in its top layers."""

    seed: int = 0
    lr: float = Field(2e-4, gt=0)
    #: the span head starts from scratch: it learns faster than the LoRA
    head_lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0)
    #: wall-clock budget: after a few timed steps the schedule is fitted to the steps that fit (None: no limit)
    max_minutes: float | None = Field(47.0, gt=0)
    #: train on a seeded sample of at most this many questions (None: all)
    max_questions: int | None = Field(None, gt=0)
    #: questions per optimizer step (each one gold pass plus `distractors` passes)
    batch_size: int = Field(4, gt=0)
    bucket_batches: int = Field(16, gt=0)
    #: passages from the index without the answer, read beside the gold one (shared normalisation)
    distractors: int = Field(1, ge=0)
    #: tokens of each distractor pass (its beginning): a short one is enough to calibrate scores across passages
    distractor_tokens: int = Field(128, gt=16)
    #: the top-ranked non-answer passage as distractor; False: a random one of the top `mine_depth`
    hard_distractors: bool = True
    mine_depth: int = Field(10, gt=0)
    #: passage tokens per pass (a longer gold passage keeps a window around its answer)
    max_passage_tokens: int = Field(256, gt=16)
    lora_rank: int = Field(16, gt=0)
    lora_alpha: int = Field(32, gt=0)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    #: decoder layers the reader keeps (the first ones; None: all): span extraction needs what the middle layers
    #: know, and each layer dropped saves its compute at training and at ask time
    layers: int | None = Field(16, gt=0)
    #: LoRA only in the top this many of those layers: backward stops below them (None: every layer)
    lora_layers: int | None = Field(6, gt=0)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    bf16: bool | None = None
    #: held-out questions (at most a tenth of the data), never trained on: scored with gold + distractors when the
    #: run ends, and read from ask's own top-k to fit the weight of the retrieval score (ragtune.json)
    eval_size: int = Field(200, ge=0)


class SynthConfig(_Section):
    """Synthesising QA pairs from indexed passages with the generator, kept only if they survive the filters."""

    n: int = Field(200, gt=0)
    seed: int = 0
    #: a kept question must retrieve its source document within this many results (the round-trip check)
    roundtrip_k: int = Field(5, gt=0)
    #: longer answers are not the short spans ask is trained to give
    max_answer_units: int = Field(12, gt=0)
    #: an answer that is not a verbatim span needs this share of its units in the passage (close paraphrase)
    min_answer_overlap: float = Field(0.8, ge=0, le=1)
    #: passages shorter than this rarely carry a fact worth asking about
    min_passage_units: int = Field(40, gt=0)
    max_passage_units: int = Field(320, gt=16)
    #: candidates generated per round, as a multiple of the pairs still missing (the filters reject some)
    overgenerate: float = Field(1.5, ge=1)
    #: pick the answer (a name, number, date or title in the focus sentence) and ask the model only for the
    #: question. Off by default: it keeps 1.6x (SQuAD) to 6.2x (CMRC) more pairs per generation, but most are
    #: cloze stand-ins, and a SQuAD adapter tuned on them added +1.7 F1 over RAG against +16.9 for the
    #: question+answer prompt's pairs (BENCHMARKS.md). Worth trying when question+answer keeps too few pairs
    answer_first: bool = False
    #: with answer_first, when the model's question for a picked answer fails the filters, ask the focus
    #: sentence itself, the answer replaced by a question word (a cloze question)
    cloze_fallback: bool = True


class RetrieverTrainConfig(_Section):
    """Contrastive fine-tuning of the retriever: in-batch negatives plus hard negatives mined from the index."""

    seed: int = 0
    #: "query": a residual linear adapter on frozen query vectors (passage vectors stay valid);
    #: "encoder": the whole sentence-transformers encoder (the corpus must be re-embedded after);
    #: "auto": encoder for sentence-transformers embedders, query adapter for the others
    adapter: str = Field("auto", pattern="^(auto|query|encoder)$")
    #: learning rate of the query adapter (a 512×512 map overfits a few hundred questions at 1e-3)
    lr: float = Field(3e-4, gt=0)
    #: learning rate of a full encoder
    encoder_lr: float = Field(2e-5, gt=0)
    #: pulls the adapter towards identity, so few questions cannot move it far
    weight_decay: float = Field(0.01, ge=0)
    epochs: float = Field(3.0, gt=0)
    #: optimizer steps; overrides epochs when set
    max_steps: int | None = Field(None, gt=0)
    batch_size: int = Field(32, gt=1)
    #: mined negatives per question (besides the other questions' passages in the batch)
    hard_negatives: int = Field(3, ge=0)
    #: how deep the BM25 and dense rankings are searched for hard negatives
    mine_depth: int = Field(30, gt=0)
    #: softmax temperature of the InfoNCE loss (0.05 is MultipleNegativesRankingLoss's scale 20)
    temperature: float = Field(0.05, gt=0)
    #: tokens per text when training a full encoder
    max_length: int = Field(256, gt=8)
    #: share of questions held out (at least 10 questions needed) to pick the query adapter's best step by
    #: dense MRR@10; step 0 is the identity, so the kept adapter is never worse than the base on them
    eval_fraction: float = Field(0.1, ge=0, lt=1)
    eval_every: int = Field(5, gt=0)
    #: checkpoint every this many steps (and after the last, and on Ctrl-C): `--resume` continues from it
    save_every: int = Field(100, gt=0)


class JointTrainConfig(_ScheduleConfig):
    """Training the query adapter and the generator's LoRA together on the RAG marginal likelihood.

    The LoRA's shape (rank, alpha, dropout, target modules) and bf16 come from `train:`, so a joint adapter is
    the same kind of PEFT folder as a generator one.
    """

    #: "sequence": -log Σ_z p(z|q) p(y|q,z) (RAG-Sequence); "token": -Σ_t log Σ_z p(z|q) p(y_t|q,z,y<t) (RAG-Token)
    mode: str = Field("sequence", pattern="^(sequence|token)$")
    #: candidate passages per question (the frozen retriever's top k, no reranker), one prompt each
    k: int = Field(4, gt=1)
    #: softmax temperature of p(z|q) over the candidates' cosine scores (the starting value when learned)
    temperature: float = Field(0.05, gt=0)
    learn_temperature: bool = True
    #: learning rate of the query adapter (and of the temperature)
    query_lr: float = Field(3e-4, gt=0)
    #: pulls the query adapter towards identity, as in train_retriever
    query_weight_decay: float = Field(0.01, ge=0)
    #: questions per optimizer step (each costs k prompts through the generator)
    batch_size: int = Field(2, gt=0)
    #: tokens per prompt (one passage each); longer passages are shortened, the answer is kept
    max_length: int = Field(512, gt=16)
    #: steps between history entries (loss, p(z|q) entropy, gold rank) in ragtune.json
    log_every: int = Field(10, gt=0)


class ServeConfig(_Section):
    """`ragtune serve`: where it listens and what one request may cost."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    #: a file holding the API key (else the RAGTUNE_API_KEY environment variable; neither: no key)
    api_key_file: Path | None = None
    #: origins allowed to call the API from a browser page of their own (CORS); empty: none
    cors_origins: list[str] = []
    #: largest JSON request body
    max_body_kb: int = Field(256, gt=0)
    #: largest uploaded file, and files per upload request
    max_upload_mb: float = Field(50.0, gt=0)
    max_upload_files: int = Field(20, gt=0)
    #: earlier turns a request may carry (the prompt keeps the last ones that fit)
    max_history_messages: int = Field(40, gt=0)
    #: largest top_k a request may ask for
    max_top_k: int = Field(50, gt=0)
    #: seconds between checks for a new index snapshot (written by an upload or by `ragtune read` elsewhere)
    reload_check_s: float = Field(1.0, ge=0)


class RayConfig(_Section):
    """`read --ray`: loading and chunking as Ray tasks, embedding in a pool of actors (index/distributed.py)."""

    #: embedder actors; each holds one copy of the embedding model
    workers: int = Field(2, gt=0)
    #: CPUs each embedder actor reserves (its model runs on as many threads)
    cpus_per_worker: float = Field(1.0, gt=0)
    #: CPUs a file-loading task reserves: a fraction, so loading never waits for the actors to finish
    cpus_per_loader: float = Field(0.25, gt=0)
    #: passages per embedding call of an actor
    batch_size: int = Field(256, gt=0)
    #: seconds to wait for the cluster named by an address before a one-line error
    connect_timeout: float = Field(10.0, gt=0)


class DistributedConfig(_Section):
    """`train ... --workers N`: data-parallel training with torch.distributed (train/distributed.py)."""

    #: processes; each takes its share of every global batch and gradients are averaged (1: no distribution)
    workers: int = Field(1, gt=0)
    #: torch.distributed backend: "auto" is NCCL when CUDA is available, else gloo
    backend: str = "auto"
    #: each process's torch CPU threads (0: the machine's cores shared out between the workers)
    threads_per_worker: int = Field(0, ge=0)


class Config(_Section):
    """Everything ragtune can be told; `Config()` is the embedded default."""

    read: ReadConfig = ReadConfig()
    chunking: ChunkingConfig = ChunkingConfig()
    embedder: EmbedderConfig = EmbedderConfig()
    index: IndexConfig = IndexConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    generator: GeneratorConfig = GeneratorConfig()
    train: TrainConfig = TrainConfig()
    train_retriever: RetrieverTrainConfig = RetrieverTrainConfig()
    train_joint: JointTrainConfig = JointTrainConfig()
    train_reader: ReaderTrainConfig = ReaderTrainConfig()
    synth: SynthConfig = SynthConfig()
    summarize: SummarizeConfig = SummarizeConfig()
    extract: ExtractConfig = ExtractConfig()
    graph: GraphConfig = GraphConfig()
    eval: EvalConfig = EvalConfig()
    serve: ServeConfig = ServeConfig()
    ray: RayConfig = RayConfig()
    distributed: DistributedConfig = DistributedConfig()
    cache_dir: Path = Field(default_factory=lambda: Path(os.environ.get("RAGTUNE_CACHE", "~/.cache/ragtune")))

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Config:
        """Defaults, then the YAML file (if any), then dotted overrides like `retrieval.top_k=3`."""
        data: dict[str, Any] = {}
        if path is not None:
            path = Path(path)
            try:
                data = yaml.safe_load(read_regular(path).decode("utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise RagtuneError(f"{path}: cannot read config: {str(exc).splitlines()[0]}") from exc
            if not isinstance(data, dict):
                raise RagtuneError(f"{path}: config must be a YAML mapping")
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RagtuneError(f"{path or 'config'}: {where}: {first['msg']}") from exc

    @property
    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir).expanduser()
