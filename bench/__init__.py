"""Benchmarks: each script prints one JSON line and appends it to BENCHMARKS.md with the command, the machine and a
same-run baseline. Run from the repository root as `python -m bench.<name> [args]` (`--help` lists the args).

What each script measures:

- answer_quality: EM/F1 of closed-book vs RAG (vs RAG + an adapter) on the same questions and index.
- context_size: F1 and eval time against top_k and passage trimming (generator.max_passage_tokens), prompt tokens.
- demo_timings: wall time of `ragtune demo`, cold cache (GGUF conversion included) or `--warm`.
- embed_speed: `ragtune read` with the int8 ONNX embedder vs a plain SentenceTransformer.encode, same texts.
- followups: recall@5 of rule-made follow-up questions searched alone, after the previous turn, rewritten with
  the subject the generator names, and as the self-contained question.
- generation_backends: torch vs OpenVINO (int8, int4): time to first token, decode tokens/s against the
  memory-bandwidth bound, peak RSS, and `ragtune eval` wall time and F1 with no cached answers (with an adapter too).
- generator_tuning: closed-book vs RAG vs RAG + LoRA tuned on human pairs vs on synthetic pairs (CMRC, SQuAD).
- joint_tuning: base vs separately tuned (retriever + generator) vs jointly tuned, EM/F1 and recall@k.
- precision_speed: float32 vs bfloat16 on this CPU for batched generation and one LoRA step.
- query_latency: retrieval p50/p95 over 1,000 queries on an index of at least 100k passages.
- read_memory: peak RSS of `ragtune read` on two synthetic corpus sizes, extrapolated per 100k passages.
- read_throughput: passages/s of `ragtune read` vs a plain encode of the same passages.
- reader_quality: answer modes (generative, extractive, span reader) and adapters on the same questions, via the CLI.
- rerank_latency: recall and seconds per question that `generator-ql` reranking buys over the fused order.
- rescore: saved answers re-scored with the question-language metric beside the old choice.
- retrieval_quality: BM25, dense, hybrid and hybrid+rerank recall/MRR/nDCG on the public sets.
- retriever_tuning: base vs tuned retriever (query adapter / encoder) on held-out questions.
- robustness: hostile inputs through the CLI, kill -9 during `read`, concurrent writers into one index.
- serve_load: `ragtune serve` on loopback: /v1/retrieve under 50 clients, /v1/ask under 1/4/16 clients with
  dynamic batching against one request at a time (throughput, latency, time to first token, errors).
- synth_yield: generations `ragtune synth` spends per kept pair, answer-first vs question+answer prompt.
- training_curves: every trainer's short seeded run (step losses, history, weight digests), `--compare` to an
  earlier run: a refactor must leave training bit-identical.
- train_memory: a LoRA step's peak RSS and time, frozen base in float32 or bfloat16, with/without checkpointing.
- train_heap: training's resident memory over many steps of varying length, with and without the per-step heap trim.
- train_step_speed: one LoRA optimizer step, ragtune's loop vs a Hugging Face Trainer + peft, same batch.

Shared modules, not scripts: common (machine, CPU meter, `record`, `run_cli`), splits (the train/test splits
and eval sets), stages (the CLI stages the tuning benchmarks share: read, train generator, eval). The YAML
configs sit next to the scripts that use them; gpu_smoke/ is a shell check of every CLI train/eval path on CUDA.
"""
