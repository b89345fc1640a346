"""``ser-export``: a checkpoint -> a self-contained bundle that predicts without Lightning.

The bundle folder holds everything :mod:`sermodels.bundle` needs to turn an audio file into an
emotion, and what a reader needs to judge the model:

- ``model.onnx``: the net (segment inputs -> logits), batch dimension dynamic (1 works too);
- ``bundle.json``: inputs and their shapes, class names, utterance aggregation, the feature
  settings (segmentation, LLD framing, HSF scope, openSMILE version), exporter versions and the
  ONNX-vs-PyTorch check done at export time;
- ``normalization.npz``: the training split's standardisation statistics;
- ``model_card.md`` / ``model_card.json``: model, corpus, training protocol and split, test metrics.

Exporter: ``torch.onnx.export(dynamo=True)``. The TorchScript exporter (``dynamo=False``) fails on
STA-CNN's STFT ("STFT does not currently support complex types") and silently mis-exports the
linear baseline's one-vs-one vote (``index_add_`` with a dynamic batch: wrong scores); the dynamo
exporter handles all three nets, but only with the batch dimension declared ``>= 2`` (PyTorch's
convolution and matmul decompositions specialise on batch 1 while tracing). The graph it writes has
a symbolic batch dimension and runs batch 1 correctly, which every export checks with
onnxruntime before writing the bundle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.features import (
    FEATURE_VERSION,
    FeatureConfig,
    feature_config_from_hparams,
)
from datamodules.features.is10 import OPENSMILE_VERSION
from sermodels.checkpoint import (
    CheckpointError,
    build_model,
    datamodule_state,
    read_checkpoint,
    run_config,
    run_folder,
    trained_data_settings,
)
from sermodels.module import net_inputs
from sermodels.results import SCALAR_KEYS

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "export_bundle", "feature_config_from_hparams", "main"]

BUNDLE_FORMAT = "sermodels-bundle"
BUNDLE_VERSION = 1
#: Largest |ONNX - PyTorch| logit difference accepted at export time.
EXPORT_TOLERANCE = 1e-3
OPSET = 18


def _input_shapes(inputs: tuple[str, ...], features: FeatureConfig) -> dict[str, tuple[int, ...]]:
    extractors = features.extractors
    return {k: extractors[k].segment_shape() for k in inputs}


def _example(shapes: dict[str, tuple[int, ...]], batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    # Standardised features are ~N(0, 1); waveforms are small (|x| < 1) like real audio.
    return tuple(torch.randn(batch, *s, generator=generator) * (0.1 if k == "wave" else 1.0) for k, s in shapes.items())


def export_onnx(net: torch.nn.Module, shapes: dict[str, tuple[int, ...]], path: Path, opset: int = OPSET) -> None:
    """Write ``net`` (inputs named as ``net.inputs``, output ``logits``) with a dynamic batch dimension.

    Raises:
        RuntimeError: The exporter failed (its message is kept).
    """
    names = list(shapes)
    batch = torch.export.Dim("batch", min=2, max=65536)  # see the module docstring: >= 2 is required
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                net, _example(shapes, 2, 0), str(path), input_names=names, output_names=["logits"], dynamo=True,
                dynamic_shapes=tuple({0: batch} for _ in names), opset_version=opset, external_data=False,
                verbose=False,
            )
        except Exception as err:  # noqa: BLE001 - re-raised with the net named
            raise RuntimeError(f"ONNX export of {type(net).__name__} failed: {type(err).__name__}: {err}") from err


def onnx_max_abs_diff(net: torch.nn.Module, shapes: dict[str, tuple[int, ...]], path: Path,
                      batches: tuple[int, ...] = (1, 3)) -> dict[str, float]:
    """Largest |ONNX - PyTorch| logit difference per batch size on random inputs (onnxruntime, CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    diffs = {}
    for i, b in enumerate(batches):
        x = _example(shapes, b, 100 + i)
        with torch.no_grad():
            ref = net(*x).numpy()
        got = session.run(["logits"], {k: v.numpy() for k, v in zip(shapes, x)})[0]
        if got.shape != ref.shape:
            raise RuntimeError(f"ONNX output shape {got.shape} differs from PyTorch's {ref.shape} at batch {b}.")
        diffs[f"batch_{b}"] = float(np.abs(got - ref).max())
    return diffs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_test_metrics(ckpt_path: Path) -> Path | None:
    """``ser test`` of the run writes ``<run>-test/test_metrics.json`` beside the run folder."""
    run = run_folder(ckpt_path)
    found = run.parent / f"{run.name}-test" / "test_metrics.json"
    return found if found.is_file() else None


def _check_test_metrics(metrics: dict[str, Any], names: list[str], split: dict[str, Any], source: Path) -> str | None:
    """Why ``metrics`` cannot belong to this checkpoint (other classes or split), or None."""
    if list(metrics.get("class_names") or []) != names:
        return f"{source} scores classes {metrics.get('class_names')}, the checkpoint predicts {names}"
    theirs = metrics.get("split") or {}
    for key in ("corpus", "protocol", "fold", "seed", "split_file", "split_unit"):
        if key in theirs and key in split and theirs[key] != split[key]:
            return f"{source} was scored on {key}={theirs[key]!r}, the checkpoint was trained with {key}={split[key]!r}"
    return None


def _model_card(info: dict[str, Any]) -> str:
    """Markdown rendering of ``model_card.json``."""
    m, t, s = info["model"], info["training"], info["training"].get("split") or {}
    lines = [f"# {m['net']} speech emotion recogniser ({info['corpus']['name']})", ""]
    lines += [
        f"- **Model**: `{m['net_class']}` in `{m['module_class']}`, {m['parameters']:,} parameters; "
        f"utterance = {m['aggregation']} of segment softmax outputs.",
        f"- **Classes** ({len(info['class_names'])}): {', '.join(info['class_names'])}.",
        f"- **Corpus**: {info['corpus']['name']}.",
        f"- **Inputs**: {', '.join(info['features']['inputs'])}; segments of {info['features']['segment_length']} s "
        f"(hop {info['features']['segment_hop'] or info['features']['segment_length']} s, mode {info['features']['segment_mode']}), "
        f"LLD frames {info['features']['frame_size']} / {info['features']['frame_shift']} s, HSF scope "
        f"{info['features']['hsf_scope']}, openSMILE {info['features']['opensmile']}.",
        f"- **Checkpoint**: `{info['checkpoint']['file']}` ({t['epochs']} epoch(s), {t['global_step']} steps), "
        f"sha256 `{info['checkpoint']['sha256'][:16]}...`.",
        "",
        "## Training protocol",
        "",
    ]
    if s:
        what = f"`{s.get('protocol')}` protocol"
        what += f", fold {s['fold']}" if s.get("fold") is not None else ""
        what += f", split file `{s['split_file']}`" if s.get("split_file") else f", split seed {s.get('seed')}"
        what += f", ratios {s['ratios']}" if s.get("ratios") else ""
        lines.append(f"- {what}; utterances {s.get('num_utterances')}.")
        if s.get("protocol") == "paper":
            lines.append("- Speakers are shared between training and test (speaker-dependent numbers).")
        if s.get("test_is_val"):
            lines.append("- The test set is the validation set (STRL-SER's two-way split): its score is unbiased only "
                         "for the last epoch, not for a checkpoint selected on validation.")
        if s.get("leaky"):
            lines.append("- **LEAKY** segment-level split (diagnostic only): its scores are not the model's.")
    else:
        lines.append("- Not recorded in the checkpoint.")
    for key in ("optimizer", "scheduler"):
        if t.get(key):
            lines.append(f"- {key}: `{json.dumps(t[key], sort_keys=True)}`")
    lines += ["", "## Test metrics", ""]
    tm = info.get("test_metrics")
    if tm:
        lines.append(f"Utterance level, from `{tm['source']}` ({tm.get('num_utterances')} utterances); "
                     "the file does not record which checkpoint of the run was tested.")
        lines += ["", "| metric | % |", "|---|---|"]
        lines += [f"| {k} | {100 * v:.2f} |" for k, v in tm["metrics"].items()]
        if tm.get("recall"):
            lines += ["", "Per-class recall (%): " + ", ".join(f"{k} {100 * v:.1f}" for k, v in tm["recall"].items())]
    else:
        lines.append(f"None given or found ({info.get('test_metrics_note', 'run `ser test` and pass --test_metrics')}).")
    v = info["export"]
    lines += ["", "## Export", "",
              f"ONNX opset {v['opset']} via {v['exporter']} (torch {v['torch']}); max |ONNX - PyTorch| logit difference "
              f"on random inputs: " + ", ".join(f"{k} {d:.2e}" for k, d in v["max_abs_diff"].items()) + ".",
              "", "Predict: `python -m sermodels.bundle <this folder> clip.wav`.", ""]
    return "\n".join(lines)


def export_bundle(
    ckpt_path: str,
    output: str | None = None,
    test_metrics: str | None = None,
    overwrite: bool = False,
    opset: int = OPSET,
) -> Path:
    """Export a checkpoint to a bundle folder (ONNX net, feature config, normalisation, classes, model card).

    Args:
        ckpt_path: Checkpoint written by ``ser fit`` (e.g. ``runs/strl_ser/ravdess/checkpoints/last.ckpt``).
        output: Bundle folder (default ``<run>-export/<checkpoint name>``, beside the run folder).
        test_metrics: ``test_metrics.json`` of ``ser test`` for the model card (default: the run's
            ``<run>-test/test_metrics.json`` if it exists and matches the checkpoint's classes and split).
        overwrite: Replace an existing bundle in ``output``.
        opset: ONNX opset.

    Returns:
        The bundle folder.
    """
    ckpt_file = Path(ckpt_path)
    ckpt = read_checkpoint(ckpt_file)
    state = datamodule_state(ckpt, ckpt_file)
    names = list(state["class_names"])
    data_hp = trained_data_settings(ckpt, ckpt_file)
    if data_hp.get("speaker_norm"):
        raise CheckpointError(
            f"--ckpt_path {ckpt_file}: trained with data.speaker_norm (speaker normalisation), which standardises each "
            "speaker's features with statistics of several of that speaker's files; a bundle scores one file at a time, "
            "so it would feed the net other inputs than training did. Predict with `ser predict --ckpt_path ...` "
            "(one call per speaker), or export a model trained without data.speaker_norm."
        )
    features, inputs = feature_config_from_hparams(data_hp)
    module = build_model(ckpt, ckpt_file)
    net = module.net.eval()
    net_keys = net_inputs(net)
    missing = [k for k in net_keys if k not in inputs]
    if missing:
        raise CheckpointError(f"--ckpt_path {ckpt_file}: {type(net).__name__} reads {list(net_keys)} but the data "
                              f"settings give {inputs}; the checkpoint's configs are inconsistent.")

    run = run_folder(ckpt_file)
    out = Path(output) if output else run.parent / f"{run.name}-export" / ckpt_file.stem
    if (out / "bundle.json").exists() and not overwrite:
        raise FileExistsError(f"--output {out} already holds a bundle; pass another --output, or --overwrite true.")
    out.mkdir(parents=True, exist_ok=True)

    shapes = _input_shapes(net_keys, features)
    onnx_path = out / "model.onnx"
    export_onnx(net, shapes, onnx_path, opset)
    diffs = onnx_max_abs_diff(net, shapes, onnx_path)
    if max(diffs.values()) > EXPORT_TOLERANCE:
        raise RuntimeError(f"ONNX export of {type(net).__name__} disagrees with PyTorch: max |difference| {diffs} > "
                           f"{EXPORT_TOLERANCE}; the bundle in {out} is not usable.")

    norm = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in (state.get("norm") or {}).items()}
    np.savez(out / "normalization.npz", **norm)
    normalize = bool(data_hp.get("normalize", True)) and bool(norm)
    aggregation = str(module.hparams.get("aggregation", "mean"))
    feature_info = features.as_dict() | {
        "inputs": list(net_keys), "opensmile": OPENSMILE_VERSION, "feature_version": FEATURE_VERSION,
    }
    import onnx

    export_info = {"exporter": "torch.onnx.export(dynamo=True)", "opset": opset, "torch": torch.__version__,
                   "onnx": onnx.__version__, "max_abs_diff": diffs}
    bundle = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "model_file": onnx_path.name,
        "inputs": [{"name": k, "shape": ["batch", *s], "dtype": "float32"} for k, s in shapes.items()],
        "output": {"name": "logits", "shape": ["batch", len(names)]},
        "class_names": names,
        "aggregation": aggregation,
        "features": feature_info,
        "normalization": {"file": "normalization.npz", "applied": normalize, "keys": sorted(norm)},
        "export": export_info,
    }
    (out / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n")

    split = dict((state.get("split") or {}).get("info") or {})
    stored = run_config(ckpt, ckpt_file) if ckpt.get("sermodels_config") or (run / "config.yaml").is_file() else {}
    model_cfg = stored.get("model") or {}
    init = model_cfg.get("init_args") or {}
    card: dict[str, Any] = {
        "model": {
            "net": type(net).__name__,
            "net_class": f"{type(net).__module__}.{type(net).__qualname__}",
            "module_class": f"{type(module).__module__}.{type(module).__qualname__}",
            "net_init_args": (init.get("net") or {}).get("init_args"),
            "parameters": sum(p.numel() for p in net.parameters()),
            "aggregation": aggregation,
        },
        "class_names": names,
        "corpus": {"name": split.get("corpus") or data_hp.get("corpus"), "classes": names},
        "features": feature_info,
        "training": {
            "epochs": int(ckpt.get("epoch", -1)) + 1,
            "global_step": int(ckpt.get("global_step", 0)),
            "split": split,
            "optimizer": init.get("optimizer"),
            "scheduler": init.get("scheduler"),
            "seed_everything": (stored.get("seed_everything") if stored else None),
        },
        "checkpoint": {"file": ckpt_file.name, "run": run.name, "sha256": _sha256(ckpt_file)},
        "export": export_info,
    }
    source = Path(test_metrics) if test_metrics else _find_test_metrics(ckpt_file)
    if source is not None:
        if not source.is_file():
            raise FileNotFoundError(f"--test_metrics {source}: no such file; expected the test_metrics.json `ser test` wrote.")
        metrics = json.loads(source.read_text())
        problem = _check_test_metrics(metrics, names, split, source)
        if problem and test_metrics:
            raise ValueError(f"--test_metrics: {problem}; pass the test_metrics.json of this checkpoint's run.")
        if problem:
            card["test_metrics_note"] = f"found {source.parent.name}/{source.name} but {problem}: left out"
        else:
            card["test_metrics"] = {
                "source": f"{source.parent.name}/{source.name}",
                "num_utterances": metrics.get("num_utterances"),
                "metrics": {k: metrics[k] for k in SCALAR_KEYS if k in metrics},
                "recall": {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("recall/")},
                "split": metrics.get("split"),
            }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    (out / "model_card.md").write_text(_model_card(card | {"export": export_info}))
    return out


def main(args: list[str] | None = None) -> None:
    """``ser-export --ckpt_path X [--output DIR] [--test_metrics FILE]`` (also ``ser export ...``)."""
    from jsonargparse import auto_cli

    out = auto_cli(export_bundle, args=args, as_positional=False)
    print(f"Bundle written to {out}: model.onnx, bundle.json, normalization.npz, model_card.md/.json")
    print(f"Predict with it: python -m sermodels.bundle {out} clip.wav")


if __name__ == "__main__":
    main()


