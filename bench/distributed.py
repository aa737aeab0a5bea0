"""Ray ingestion and data-parallel training, each against its single-process baseline in the same run.

Usage: python -m bench.distributed [--parts ingest,retriever,generator] [--data SQUAD_JSON] [--steps N]

ingest: `ragtune read` of one SQuAD-format file (default: CMRC 2018 dev, 848 paragraphs) single-process, then
`read --ray` with 1 and 2 embedder actors (an in-process Ray inside a private network namespace, loopback only, as
the tests run it); passages/s of each (process start, model and Ray start included: what a user waits for) and
the content check (ids, text, BM25 tokens equal; largest vector difference).
retriever / generator: the same seeded run (same global batch) on 1 worker and on 2 torchrun ranks (gloo, one
torch thread each; 1 worker gets both cores): every step's loss and time, captured from the training loop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from .common import ROOT, SHARED, record

SQUAD_SAMPLE = ROOT / "ragtune" / "demo" / "data" / "squad_sample.json"
PYTHON = sys.executable


# ---- ingestion -----------------------------------------------------------------------------------------------
def _read(args: list[str], config: dict, folder: Path, private_network: bool) -> tuple[float, float, str]:
    """One `ragtune read` as a user runs it: (wall seconds, the seconds its report states, its report line)."""
    path = folder / f"config-{len(list(folder.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [PYTHON, "-m", "ragtune.cli", "read", *args, "--config", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    if private_network:
        env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rt-ray-", dir="/tmp")
        command = ["unshare", "-n", "sh", "-ec", 'ip link set lo up; exec "$@"', "sh", *command]
    print("$", " ".join(command[-8:]), file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if private_network:
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"read failed ({done.returncode})")
    line = next(line for line in done.stdout.splitlines() if line.startswith("read:"))
    return wall, float(re.search(r" in ([\d.]+)s", line).group(1)), line


def _same_content(expected: Path, actual: Path) -> dict:
    from ragtune.index.backends import open_index
    from ragtune.index.tokenize import tokenize

    one, other = open_index(expected), open_index(actual)
    diff = np.abs(np.asarray(one.vectors()) - np.asarray(other.vectors())).max()
    queries = [tokenize(one.search_text(p.embedding_text)) for p in list(one.passages)[:: max(1, len(one) // 50)]]
    lexical_equal = all(one.lexical_top(q, 10)[0].tolist() == other.lexical_top(q, 10)[0].tolist() for q in queries)
    return {"passages_equal": [p.to_json() for p in one.passages] == [p.to_json() for p in other.passages],
            "lexical_top10_equal": lexical_equal, "sources_equal": dict(one.sources) == dict(other.sources),
            "max_vector_diff": float(diff)}


def bench_ingest(data: Path, tmp: Path) -> dict:
    base = {"retrieval": {"reranker": "none"}}
    wall, stated, line = _read([str(data), "--index", str(tmp / "single")], base, tmp, private_network=False)
    n = int(re.search(r"= (\d+) in", line).group(1))
    result = {"data": data.name, "passages": n, "single_wall_s": round(wall, 1), "single_read_s": stated,
              "single_passages_per_s": round(n / wall, 1)}
    for workers in (1, 2):
        config = {**base, "ray": {"workers": workers}}
        wall, stated, _ = _read([str(data), "--index", str(tmp / f"ray{workers}"), "--ray"], config, tmp,
                                private_network=True)
        result.update({f"ray{workers}_wall_s": round(wall, 1), f"ray{workers}_read_s": stated,
                       f"ray{workers}_passages_per_s": round(n / wall, 1),
                       f"ray{workers}_vs_single": round((n / wall) / result["single_passages_per_s"], 3),
                       f"ray{workers}_content": _same_content(tmp / "single", tmp / f"ray{workers}")})
    # the single-process read once more, last: on a shared machine the load changes during the run
    wall, stated, _ = _read([str(data), "--index", str(tmp / "single-again")], base, tmp, private_network=False)
    result.update({"single_again_wall_s": round(wall, 1), "single_again_passages_per_s": round(n / wall, 1)})
    return result


# ---- training ------------------------------------------------------------------------------------------------
def _train_config(part: str, steps: int) -> dict:
    if part == "retriever":
        return {"retrieval": {"reranker": "none"},
                "train_retriever": {"max_steps": steps, "batch_size": 32, "eval_fraction": 0.0, "save_every": 10**6}}
    return {"retrieval": {"reranker": "none"},
            "train": {"max_length": 256, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0, "batch_size": 4,
                      "grad_accum": 1, "lr": 1e-3, "warmup_ratio": 0.0, "max_steps": steps, "eval_every": 10**6,
                      "eval_size": 0, "top_k": 3, "bucket_batches": 2, "save_every": 10**6}}


def child(part: str, data: Path, index: Path, config_path: Path, out: Path, result: Path) -> None:
    """One rank (or the single worker) of a training run; rank 0 writes every step's loss and time."""
    from ragtune.config import Config
    from ragtune.pipeline import Pipeline
    from ragtune.train import distributed
    from ragtune.train.loop import TrainingLoop

    distributed.join()
    loops = []
    run = TrainingLoop.run

    def captured(loop, *args, **kwargs):
        loops.append(loop)
        return run(loop, *args, **kwargs)

    TrainingLoop.run = captured
    pipeline = Pipeline(index, Config.load(config_path), progress=False)
    if part == "retriever":
        from ragtune.train.retriever import train_retriever as train
    else:
        from ragtune.train.generator import train_generator as train
    try:
        train(pipeline, data, out, progress=False)
    except distributed.WorkerFinished:
        return
    finally:
        distributed.leave()
    loop = loops[0]
    result.write_text(json.dumps({"losses": loop.step_losses, "step_times": loop.step_times,
                                  "train_seconds": loop.train_seconds}), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_run(part: str, workers: int, data: Path, index: Path, config: Path, tmp: Path,
               threads: int | None = None) -> dict:
    """One run; `threads`: torch threads of each process (default: the cores shared out between the workers)."""
    name = f"{part}-{workers}-{threads}"
    out, result = tmp / name, tmp / f"{name}.json"
    args = ["-m", "bench.distributed", "--child", part, str(data), str(index), str(config), str(out), str(result)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GLOO_SOCKET_IFNAME": "lo",
           "OMP_NUM_THREADS": str(threads or max(1, (os.cpu_count() or 1) // workers))}
    if workers > 1:
        args = ["-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={workers}",
                "--master-addr=127.0.0.1", f"--master-port={_free_port()}", *args]
    start = time.perf_counter()
    done = subprocess.run([PYTHON, *args], env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{part} training on {workers} workers failed ({done.returncode})")
    run = json.loads(result.read_text(encoding="utf-8"))
    run["wall_s"] = round(time.perf_counter() - start, 1)
    return run


def bench_training(part: str, steps: int, tmp: Path) -> dict:
    from ragtune.config import Config
    from ragtune.pipeline import Pipeline

    if part == "retriever":
        data = SHARED / "expmrc-squad" / "expmrc-squad-dev.json"
    else:  # the 4 SQuAD-sample articles of tests/train/conftest.py
        sample = json.loads(SQUAD_SAMPLE.read_text(encoding="utf-8"))
        sample["data"] = [sample["data"][i] for i in (2, 3, 4, 8)]
        data = tmp / "squad_slice.json"
        data.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
    settings = _train_config(part, steps)
    config = tmp / f"{part}.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    index = tmp / f"{part}-index"
    Pipeline(index, Config.load(config), progress=False).read([data])
    runs = {workers: _train_run(part, workers, data, index, config, tmp) for workers in (1, 2)}
    runs["1x1"] = _train_run(part, 1, data, index, config, tmp, threads=1)  # control: one worker, one thread
    one, two = runs[1]["losses"], runs[2]["losses"]
    times = {w: runs[w]["step_times"][1:] or runs[w]["step_times"] for w in runs}  # the first step warms up
    return {"trainer": part, "steps": len(one), "global_batch": settings.get("train", settings.get(
        "train_retriever"))["batch_size"], "losses_1_worker": [round(x, 5) for x in one],
            "losses_2_workers": [round(x, 5) for x in two],
            "max_loss_diff": round(max(abs(a - b) for a, b in zip(one, two)), 7),
            "step_s_1_worker": round(float(np.median(times[1])), 4),
            "step_s_2_workers": round(float(np.median(times[2])), 4),
            "speedup_2_vs_1": round(float(np.median(times[1]) / np.median(times[2])), 3),
            "step_s_1_worker_1_thread": round(float(np.median(times["1x1"])), 4),
            "max_loss_diff_1_thread": round(max(abs(a - b) for a, b in zip(one, runs["1x1"]["losses"])), 7),
            "wall_s_1_worker": runs[1]["wall_s"], "wall_s_2_workers": runs[2]["wall_s"]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        part, *paths = sys.argv[2:]
        child(part, *map(Path, paths))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ingest,retriever,generator")
    parser.add_argument("--data", type=Path, default=SHARED / "cmrc2018" / "cmrc2018_dev.json",
                        help="SQuAD-format file to ingest (default: CMRC 2018 dev)")
    parser.add_argument("--retriever-steps", type=int, default=60)
    parser.add_argument("--generator-steps", type=int, default=6)
    args = parser.parse_args()
    parts = args.parts.split(",")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if "ingest" in parts:
            result = bench_ingest(args.data, tmp)
            record(f"Ray ingestion ({args.data.name})", {"bench": "distributed.ingest", **result,
                                                          "load_before": round(load, 2)},
                   notes="single = `ragtune read FILE`; rayN = `ragtune read FILE --ray` with ray.workers N (an "
                   "in-process Ray in a private network namespace); wall time of each command, process start, "
                   "embedder load and Ray start included; content = the Ray index against the single-process one.")
        for part in ("retriever", "generator"):
            if part in parts:
                steps = args.retriever_steps if part == "retriever" else args.generator_steps
                result = bench_training(part, steps, tmp)
                record(f"Data-parallel training ({part}, 1 vs 2 workers)",
                       {"bench": "distributed.train", **result, "load_before": round(os.getloadavg()[0], 2)},
                       notes="the same seeded run and global batch on 1 worker (2 torch threads) and 2 torchrun "
                       "ranks (gloo over loopback, 1 thread each), and 1 worker with 1 thread as a control; step_s = "
                       "median step time after the first.")


if __name__ == "__main__":
    main()
