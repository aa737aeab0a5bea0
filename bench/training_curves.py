"""Training curves of short, seeded runs of every trainer, to check that a change leaves training bit-identical.

Usage: python -m bench.training_curves OUT.json [--parts generator,joint,retriever,reader] [--compare BEFORE.json]

Each trainer trains a few steps on four SQuAD-sample articles (the generator run is the 6-step run of
tests/train/conftest.py); every step's loss is captured at the trainer's loss function, with the history, the
held-out figures and a digest of the weights written. Run it on the code before a refactor and after it, then
`--compare`: a refactor that claims "no behaviour change" must give the same floats. The code before issue 20
took models through `pipeline.__dict__`; this script sets them either way.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import pkgutil
import tempfile
from pathlib import Path

from ragtune.config import Config
from ragtune.index.embedders import create_embedder
from ragtune.pipeline import Pipeline

from .common import ROOT, record

SQUAD = ROOT / "ragtune" / "demo" / "data" / "squad_sample.json"
PARTS = ("generator", "joint", "retriever", "reader")


def pipeline(index: Path, config: Config, embedder) -> Pipeline:
    try:
        return Pipeline(index, config, progress=False, embedder=embedder)
    except TypeError:  # before issue 20: no constructor injection
        made = Pipeline(index, config, progress=False)
        made.__dict__["embedder"] = embedder
        return made


def patch_all(name: str, wrapper):
    """Wrap the loss function `name` wherever a ragtune.train module holds it; returns the undo."""
    import ragtune.train as train

    undo = []
    for info in pkgutil.iter_modules(train.__path__):
        module = importlib.import_module(f"ragtune.train.{info.name}")
        if hasattr(module, name):
            original = getattr(module, name)
            setattr(module, name, wrapper(original))
            undo.append((module, original))
    return lambda: [setattr(module, name, original) for module, original in undo]


def recording(losses: list[float]):
    def wrapper(original):
        def recorded(*args, **kwargs):
            out = original(*args, **kwargs)
            losses.append(float(out.item()))
            return out
        return recorded
    return wrapper


def digest(folder: Path, names: list[str]) -> str:
    from safetensors.torch import load_file

    h = hashlib.sha256()
    for name in names:
        tensors = load_file(str(folder / name))
        for key in sorted(tensors):
            h.update(key.encode())
            h.update(tensors[key].float().numpy().tobytes())
    return h.hexdigest()


def untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if k != "eval_seconds"} for entry in history]


def run_generator(pipe, data: Path, tmp: Path) -> dict:
    from ragtune.train.generator import train_generator

    losses: list[float] = []
    undo = patch_all("loss_sum", recording(losses))
    result = train_generator(pipe, data, tmp / "gen", progress=False)
    undo()
    return {"losses": losses, "history": untimed(result.history), "best": result.best, "step": result.step,
            "weights": digest(tmp / "gen" / "checkpoint", ["adapter_model.safetensors"]),
            "published": digest(tmp / "gen", ["adapter_model.safetensors"])}


def run_joint(pipe, data: Path, tmp: Path) -> dict:
    from ragtune.train.joint import JointModel, train_joint

    losses: list[float] = []
    nll = JointModel.nll

    def spy(self, *args):
        out = nll(self, *args)
        losses.append(float(out[0].item()))
        return out

    JointModel.nll = spy
    try:
        result = train_joint(pipe, data, tmp / "joint", progress=False)
    finally:
        JointModel.nll = nll
    return {"losses": losses, "history": result.history, "temperature": result.temperature, "first": result.first,
            "weights": digest(tmp / "joint", ["adapter_model.safetensors", "query_adapter.safetensors"])}


def run_retriever(pipe, data: Path, tmp: Path, name: str) -> dict:
    from ragtune.train.retriever import train_retriever

    losses: list[float] = []
    undo = patch_all("info_nce", recording(losses))
    result = train_retriever(pipe, data, tmp / name, progress=False)
    undo()
    return {"losses": losses, "loss_first": result.loss_first, "loss_last": result.loss_last,
            "heldout": result.heldout, "fusion": result.fusion,
            "weights": digest(tmp / name, ["query_adapter.safetensors"])}


def run_reader(pipe, data: Path, tmp: Path) -> dict:
    from ragtune.train.reader import train_reader

    losses: list[float] = []
    undo = patch_all("shared_norm_loss", recording(losses))
    result = train_reader(pipe, data, tmp / "reader", progress=False)
    undo()
    return {"losses": losses, "heldout": result.heldout, "loss_first": result.loss_first,
            "loss_last": result.loss_last, "steps": result.steps, "retrieval_fit": result.retrieval_fit,
            "weights": digest(tmp / "reader", ["adapter_model.safetensors", "reader_head.safetensors"])}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    parts = args.parts.split(",")
    res: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="training-curves-"))
    data = json.loads(SQUAD.read_text())
    data["data"] = [data["data"][i] for i in (2, 3, 4, 8)]  # the slice tests/train uses
    slice_ = tmp / "squad_slice.json"
    slice_.write_text(json.dumps(data, ensure_ascii=False))
    cfg = Config(retrieval={"reranker": "none"},
                 train={"max_length": 256, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.1, "batch_size": 2,
                        "grad_accum": 1, "lr": 1e-3, "warmup_ratio": 0.0, "max_steps": 6, "eval_every": 6,
                        "eval_size": 2, "eval_batch_size": 2, "eval_max_new_tokens": 8, "top_k": 3,
                        "bucket_batches": 2})
    emb = create_embedder(Config().embedder, Config().resolved_cache_dir)
    pipe = pipeline(tmp / "index", cfg, emb)
    pipe.read([slice_])
    def sub(**sections) -> Pipeline:
        return pipeline(pipe.index_dir, cfg.model_copy(update={
            name: getattr(cfg, name).model_copy(update=values) for name, values in sections.items()}), emb)

    if "generator" in parts:
        res["generator"] = run_generator(pipe, slice_, tmp)
    if "joint" in parts:
        res["joint"] = run_joint(sub(train_joint={"k": 2, "max_steps": 3, "batch_size": 2, "max_length": 192,
                                                  "log_every": 1, "lr": 1e-3, "query_lr": 1e-2,
                                                  "warmup_ratio": 0.34}), slice_, tmp)
    if "retriever" in parts:
        res["retriever_last"] = run_retriever(sub(train_retriever={"max_steps": 8, "batch_size": 8, "lr": 1e-3,
                                                                   "eval_fraction": 0.0}), slice_, tmp,
                                              "retriever_last")
        res["retriever_best"] = run_retriever(sub(train_retriever={"max_steps": 6, "batch_size": 4, "lr": 1e-3,
                                                                   "eval_fraction": 0.3, "eval_every": 2}),
                                              slice_, tmp, "retriever_best")
    if "reader" in parts:
        res["reader"] = run_reader(sub(train_reader={"layers": 4, "lora_layers": 2, "max_steps": 4, "batch_size": 2,
                                                     "eval_size": 3, "max_passage_tokens": 128,
                                                     "distractor_tokens": 48, "lora_rank": 4, "lora_alpha": 8,
                                                     "head_lr": 1e-2}), slice_, tmp)
    args.out.write_text(json.dumps(res, indent=1))
    summary = {name: {"steps": len(run["losses"]), "first_loss": run["losses"][0], "last_loss": run["losses"][-1],
                      "weights": run["weights"][:12]} for name, run in res.items()}
    if args.compare:
        before = json.loads(args.compare.read_text())
        summary = {name: {**row, "identical_to_before": before.get(name) == res[name]} for name, row in summary.items()}
    record("Training curves (bit-identical check)", summary,
           notes=f"every step loss, history and weight digest in {args.out}"
                 + (f", compared with {args.compare}" if args.compare else ""))


if __name__ == "__main__":
    main()
