"""Predict with an exported bundle (``ser-export``): no Lightning, no checkpoint, just onnxruntime.

The features are the framework's own (:func:`datamodules.features.compute_features`: the same
segmentation and extractors, e.g. IS10 LLDs/functionals or waveform segments), standardised with the
training statistics stored in the bundle (:class:`datamodules.normalize.Standardizer`); each segment's softmax comes from the ONNX net, and an
utterance is scored as in training (mean of segment softmax outputs, or majority vote)::

    from sermodels.bundle import Bundle
    bundle = Bundle("runs/strl_ser/ravdess-export/last")
    result = bundle.predict_file("clip.wav")   # .label, .probs, .segment_probs, .starts, .ends

or on the command line: ``python -m sermodels.bundle BUNDLE clip.wav more/ [--output DIR] [--timeline]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.features import FEATURE_VERSION, FeatureConfig, compute_features
from datamodules.normalize import Standardizer
from datamodules.suffixes import AUDIO_SUFFIXES
from sermodels.plots import plot_timelines
from sermodels.predict_report import (
    FilePrediction,
    aggregate_segments,
    format_predictions_table,
    segment_times,
    write_predictions_csv,
    write_timeline_csv,
)

__all__ = ["Bundle", "BundleError", "main"]

BUNDLE_FORMAT = "sermodels-bundle"
SUPPORTED_VERSIONS = (1,)


class BundleError(ValueError):
    """A bundle folder that is missing, incomplete or of another format (the message says how to fix it)."""


class Bundle:
    """An exported model: ONNX net + feature settings + normalisation + class names.

    Args:
        folder: The folder ``ser-export`` wrote (holding ``bundle.json``).
        batch_size: Segments per onnxruntime call.
        threads: onnxruntime intra-op threads (0: its default).

    Raises:
        BundleError: No ``bundle.json``, another format/version, or a missing file.
    """

    def __init__(self, folder: str | Path, batch_size: int = 64, threads: int = 0) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / "bundle.json"
        if not meta_path.is_file():
            raise BundleError(f"{self.folder}: no bundle.json; expected a folder written by `ser-export --ckpt_path ...`.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != BUNDLE_FORMAT or meta.get("version") not in SUPPORTED_VERSIONS:
            raise BundleError(
                f"{meta_path}: format {meta.get('format')!r} version {meta.get('version')!r}; this loader reads "
                f"{BUNDLE_FORMAT!r} versions {list(SUPPORTED_VERSIONS)} (re-export with this version of sermodels)."
            )
        if batch_size < 1:
            raise ValueError(f"Expected batch_size >= 1, got {batch_size}.")
        self.meta: dict[str, Any] = meta
        self.class_names: list[str] = list(meta["class_names"])
        self.aggregation: str = meta.get("aggregation", "mean")
        self.input_names: list[str] = [i["name"] for i in meta["inputs"]]
        feats = dict(meta["features"])
        if feats.get("feature_version") != FEATURE_VERSION:
            raise BundleError(
                f"{meta_path}: features computed with feature code version {feats.get('feature_version')}, this "
                f"installation has {FEATURE_VERSION}; install the sermodels version that exported the bundle."
            )
        fields = {f.name for f in dataclasses.fields(FeatureConfig)}
        self.features = FeatureConfig(**{k: v for k, v in feats.items() if k in fields})
        norm_path = self.folder / meta["normalization"]["file"]
        if not norm_path.is_file():
            raise BundleError(f"{norm_path}: missing; the bundle is incomplete (re-run ser-export).")
        with np.load(norm_path, allow_pickle=False) as data:
            self.norm = {k: data[k].astype(np.float32) for k in data.files}
        self.normalize = bool(meta["normalization"].get("applied", True))
        self.batch_size = batch_size
        model_path = self.folder / meta["model_file"]
        if not model_path.is_file():
            raise BundleError(f"{model_path}: missing; the bundle is incomplete (re-run ser-export).")
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("sermodels.bundle needs onnxruntime: pip install 'sermodels[export]' (or onnxruntime).") from err
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    @property
    def model_name(self) -> str:
        """E.g. ``STRLSER (last.ckpt)``, from the model card when present."""
        card = self.folder / "model_card.json"
        if card.is_file():
            info = json.loads(card.read_text())
            return f"{info['model']['net']} ({info['checkpoint']['file']})"
        return self.folder.name

    def inputs(self, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model inputs ``(S, ...)`` from :func:`compute_features` output, standardised as in training."""
        count = len(features["bounds"])
        raw: dict[str, torch.Tensor] = {}
        for name in self.input_names:
            x = np.asarray(features[name], dtype=np.float32)
            if len(x) != count:  # a per-utterance input (e.g. utterance-scope functionals): one row for every segment
                x = np.repeat(x, count, axis=0)
            raw[name] = torch.from_numpy(x)
        if self.normalize:
            standardizer = Standardizer()
            standardizer.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in self.norm.items()})
            raw = standardizer.transform(raw)
        return {k: np.ascontiguousarray(v.numpy(), dtype=np.float32) for k, v in raw.items()}

    def segment_probs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Softmax of the ONNX net's logits, ``(S, C)``, in batches of ``batch_size`` segments."""
        count = len(next(iter(inputs.values())))
        logits = np.concatenate([
            self.session.run(["logits"], {k: v[i : i + self.batch_size] for k, v in inputs.items()})[0]
            for i in range(0, count, self.batch_size)
        ])
        z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_file(self, path: str | Path) -> FilePrediction:
        """One file's utterance prediction and per-segment probabilities with their times."""
        features = compute_features(path, self.features)
        probs = self.segment_probs(self.inputs(features))
        mean, index = aggregate_segments(probs, self.aggregation)
        starts, ends = segment_times(features["bounds"], int(features["num_samples"]), self.features.sample_rate)
        return FilePrediction(Path(path), mean, self.class_names[index], probs, starts, ends)

    def predict(self, paths: Sequence[str | Path]) -> list[FilePrediction]:
        """:meth:`predict_file` for every audio file (folders are searched recursively).

        A file that cannot be read or featurised gets a result with its ``error`` (and no
        prediction); the others are predicted, as ``ser predict`` does.
        """
        from datamodules.audio import AudioError
        from datamodules.features import FeatureError

        results = []
        for p in expand_paths(paths):
            try:
                results.append(self.predict_file(p))
            except (AudioError, FeatureError) as err:
                n = len(self.class_names)
                results.append(FilePrediction(Path(p), np.full(n, np.nan), "", np.zeros((0, n)), error=str(err)))
        return results

    def report(self, results: Sequence[FilePrediction], output: str | Path | None, timeline: bool = False) -> None:
        """Print the table; with ``output``, write predictions.csv (and the timeline CSV + pictures)."""
        print(format_predictions_table(results, self.class_names, f"Predictions of {self.model_name}: {len(results)} file(s)"))
        failed = [r for r in results if r.error]
        if failed:
            print(f"{len(failed)} of {len(results)} files have no prediction, e.g. {failed[0].path}: {failed[0].error}")
        if output is None:
            return
        out = Path(output)
        write_predictions_csv(out / "predictions.csv", results, self.class_names)
        if timeline:
            usable = [r for r in results if not r.error]
            write_timeline_csv(out / "timeline.csv", usable, self.class_names)
            plot_timelines(out / "timeline", usable, self.class_names, self.model_name)
        print(f"Wrote {out / 'predictions.csv'}")


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Audio files, folders replaced by the audio files under them (sorted).

    Raises:
        ValueError: A path that does not exist, or a folder without audio.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise ValueError(f"{p}: folder holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"{p}: neither an audio file nor a folder.")
    return files


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sermodels.bundle BUNDLE AUDIO... [--output DIR] [--timeline]``: table, CSVs, pictures."""
    parser = argparse.ArgumentParser(prog="python -m sermodels.bundle", description=main.__doc__)
    parser.add_argument("bundle", help="Folder written by ser-export.")
    parser.add_argument("audio", nargs="+", help="Audio files or folders.")
    parser.add_argument("--output", help="Write predictions.csv (and the timeline) here; refused if it holds one.")
    parser.add_argument("--timeline", action="store_true", help="Also timeline.csv and timeline/*.png (needs --output).")
    args = parser.parse_args(argv)
    bundle = Bundle(args.bundle)
    if args.output and (Path(args.output) / "predictions.csv").exists():
        raise SystemExit(f"--output {args.output} already holds predictions.csv; pass another --output.")
    bundle.report(bundle.predict(args.audio), args.output, args.timeline)


if __name__ == "__main__":
    main()
