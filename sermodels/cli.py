"""The ``ser`` command: LightningCLI over :class:`SERModule` subclasses and :class:`SERDataModule`."""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from datamodules.datamodule import SERDataModule, checkpoint_feature_settings, feature_setting_mismatches
from sermodels.checkpoint import (
    RunConfigInCheckpoint,
    load_checkpoint,
    model_config,
    predict_data_config,
    read_checkpoint,
)
from sermodels.fastpredict import NET_LINK_TARGETS
from sermodels.module import SERModule
from sermodels.predict import UtterancePredictionWriter
from sermodels.predict_report import claim_output_dir
from sermodels.results import WANDB_KEY, RunResults, SERSaveConfigCallback, new_wandb_run_id, wandb_loggers

__all__ = ["SERCLI", "cli_main", "main", "run_tag", "checkpoint_class_names", "checkpoint_predict_args"]

_EVAL_SUBCOMMANDS = ("test", "validate", "predict")
#: ``--ckpt_path`` values that name no file (Lightning resolves them itself).
_SPECIAL_CKPT = ("best", "last", "hpc", "registry")


class SERCLI(LightningCLI):
    """Links what the data decides into the model, so no value is typed twice."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.init_args.class_names", apply_on="instantiate")
        for name in NET_LINK_TARGETS:  # class count and feature shapes (jsonargparse skips a net without one)
            parser.link_arguments(f"data.{name}", f"model.init_args.net.init_args.{name}", apply_on="instantiate")

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        """``predict`` gets its own options (where results go, timeline), absent from fit's saved configs.

        LightningCLI builds one parser per subcommand here and offers no public per-subcommand
        hook; ``add_arguments_to_parser`` would put these into every subcommand (and config.yaml).
        """
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":
            parser.add_argument("--output", type=str | None, default=None,
                                help="Results folder (default: named after the checkpoint, "
                                     "runs/<model>/<run>-predict/<checkpoint name>/, a new one per call).")
            parser.add_argument("--timeline", type=bool, default=False,
                                help="Also write every segment's probabilities with start/end times (timeline.csv) "
                                     "and a picture of emotion over time per file of >= 3 segments (timeline/*.png).")
            parser.add_argument("--overwrite", type=bool, default=False,
                                help="Allow replacing predictions.csv in an existing --output folder.")
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """``ser predict --ckpt_path X`` without ``--config``: the model and feature settings come from X."""
        argv = list(sys.argv[1:] if args is None else args) if args is None or isinstance(args, (list, tuple)) else None
        expanded = checkpoint_predict_args(argv) if argv is not None else None
        if expanded is None:
            super().parse_arguments(parser, args)
            return
        self.config = parser.parse_args(expanded)

    def _parse_ckpt_path(self) -> None:
        """LightningCLI's reload of ``--ckpt_path``'s module hyperparameters (``aggregation``, ...) into
        ``model``, parsed by the subcommand's own parser.

        Lightning parses them with the top-level parser, which drops the config's other
        ``init_args`` (``net``: "the following arguments are required") when the model class is
        :class:`SERModule` itself, the class every model config names. A checkpoint that cannot be
        read here is left to :meth:`_check_checkpoint`, which says why.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        ckpt_path = config.get("ckpt_path")
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        try:
            state = torch.load(ckpt_path, weights_only=True, map_location="cpu")
        except Exception:  # noqa: BLE001 - reported with its cause by _check_checkpoint
            return
        hparams = dict(state.get("hyper_parameters") or {}) if isinstance(state, dict) else {}
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        model = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams} if "_class_path" in hparams else hparams
        self.config[subcommand] = self._parser(subcommand).parse_object({"model": model}, config)

    def before_instantiate_classes(self) -> None:
        """Give every run its own logger folder, so no run overwrites another's checkpoints or logs.

        - CSV/TensorBoard: the configured ``version`` (default: ``data.corpus``, e.g. ``ravdess``) gets the run's protocol,
          fold and seeds unless they are the configs' defaults (``ravdess-speaker-fold3``,
          ``ravdess-split1-seed1``); ``test``/``validate``/``predict`` add ``-<subcommand>``
          (CSVLogger wipes a reused folder's metrics, which would erase fit's training curves).
          Idempotent: a run's saved ``config.yaml`` passed back in keeps its folder name.
        - W&B: see :meth:`_wandb_run` (one W&B run and one local folder per fit; test/validate
          log into the fit's run).
        """
        if self.subcommand in _EVAL_SUBCOMMANDS:
            # They log to `<version>-<subcommand>`, so restoring a ModelCheckpoint always reports a
            # changed folder; the restored weights are the --ckpt_path ones, nothing is lost.
            warnings.filterwarnings("ignore", message="The dirpath has changed from", category=UserWarning)
        config = self.config[self.subcommand] if self.subcommand else self.config
        if self.subcommand:
            self._check_checkpoint(config)  # safe read; feature settings; predict: class names
        if self.subcommand == "predict":
            # Predicting needs none of the callbacks that wrote the checkpoint (e.g. ModelCheckpoint).
            warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`, callbacks", category=UserWarning)
            # Results go to a folder named after the checkpoint (a new one per call), not the
            # config's logger folder; predict logs nothing, so no logger folder is made.
            out = claim_output_dir(config.get("output"), config.get("ckpt_path"), bool(config.get("overwrite")))
            config.output = str(out)
            config.trainer.logger = False
            config.trainer.default_root_dir = str(out)  # SaveConfigCallback's config.yaml lands there too
            return
        logger = config.trainer.get("logger")
        if logger is None or isinstance(logger, bool) or getattr(logger, "init_args", None) is None:
            return
        init = logger.init_args
        version = init.get("version")
        if version is None and "version" in init:
            # configs/trainer.yaml names no version: the run folder is named after the corpus
            # (runs/<model>/<corpus>), so a corpus file needs nothing but data.corpus.
            corpus = (config.get("data") or {}).get("corpus")
            version = str(corpus).rsplit(":", 1)[-1] if corpus else None  # "pkg.mod:toy" -> "toy"
        if isinstance(version, str) and version:
            for suffix in (f"-{c}" for c in _EVAL_SUBCOMMANDS):
                version = version.removesuffix(suffix)
            tag = run_tag(config.get("data"), config.get("seed_everything"))
            if tag and not version.endswith(tag):
                version += tag
        if str(getattr(logger, "class_path", "")).endswith("WandbLogger"):
            self._wandb_run(config, init, version if isinstance(version, str) and version else "run")
            return
        if not isinstance(version, str) or not version:
            return
        if self.subcommand in _EVAL_SUBCOMMANDS:
            version += f"-{self.subcommand}"
        init.version = version

    def _wandb_run(self, config: Any, init: Any, version: str) -> None:
        """One W&B run and one local folder per fit; ``test``/``validate`` log into the fit's run.

        - Run id: ``--trainer.logger.init_args.id`` if given; else, for ``test``/``validate`` and a
          resumed ``fit``, the id stored in the ``--ckpt_path`` checkpoint (W&B resumes that run, so
          the test scores sit in the fit's row); else a fresh id. The configs' fixed ``version``
          (e.g. ``ravdess``) is never the id: every run and sweep trial would resume one W&B run.
        - Display name: the tagged version (``ravdess-speaker-fold3``).
        - Local folder (``save_dir``; config.yaml, test_metrics.json, PNGs, the ``wandb/`` files and
          the checkpoints): ``<save_dir>/<name>/<version>-<run id>[-<subcommand>]``, e.g.
          ``runs/strl_ser/ravdess-3kf9x2ab/``, so no two runs write into one folder. A run's saved
          ``config.yaml`` passed back in keeps its folder.
        """
        stored = getattr(self, "_ckpt_wandb", None) or {}
        run_id = init.get("id") or stored.get("id") or new_wandb_run_id()
        init.id = str(run_id)
        init.version = None
        if init.get("resume") is None:
            init.resume = "allow"  # wandb.init(resume=None) would refuse an existing id
        if not init.get("project") and stored.get("project"):
            init.project = stored["project"]
        save_dir = Path(str(init.get("save_dir") or "runs"))
        suffix = f"-{self.subcommand}" if self.subcommand in _EVAL_SUBCOMMANDS else ""
        folder_names = {f"{version}-{run_id}", f"{version}-{run_id}{suffix}"} | {f"{version}-{run_id}-{c}" for c in _EVAL_SUBCOMMANDS}
        if save_dir.name in folder_names:  # a run's own config.yaml: keep its folder, swap the suffix
            save_dir = save_dir.parent
        else:
            save_dir = save_dir / str(init.get("name") or "ser")
        folder = save_dir / f"{version}-{run_id}{suffix}"
        init.save_dir = str(folder)
        init.name = version  # the W&B display name: e.g. ravdess-speaker-fold3
        # ModelCheckpoint would otherwise use <save_dir>/<project>/<id>/checkpoints.
        for callback in config.trainer.get("callbacks") or []:
            cb_init = getattr(callback, "init_args", None)
            if str(getattr(callback, "class_path", "")).endswith("ModelCheckpoint") and cb_init is not None:
                if cb_init.get("dirpath") is None:
                    cb_init.dirpath = str(folder / "checkpoints")

    def _check_checkpoint(self, config: Any) -> None:
        """Read ``--ckpt_path`` once, safely, before anything is built or extracted.

        - Lightning gets ``weights_only=True`` unless ``--weights_only false`` was given (its default
          for ``http(s)://`` checkpoints unpickles arbitrary objects), and the file is first read
          here weights-only, so a crafted checkpoint is refused with a clear error.
        - Feature settings (segment length, hop, frames, HSF scope, normalisation, speaker normalisation) must be the ones
          the checkpoint was trained with: ``test``/``validate``/resumed ``fit`` refuse a mismatch
          naming both values; ``predict`` uses the checkpoint's settings and says so.
        - ``predict`` takes the class names from the checkpoint, so a csv/folder-corpus model
          predicts without its corpus or ``data.classes``.
        """
        if config.get("weights_only") is None:
            config.weights_only = True
        ckpt = config.get("ckpt_path")
        if not ckpt or str(ckpt) in _SPECIAL_CKPT:
            return
        state = load_checkpoint(ckpt, weights_only=bool(config.weights_only))
        self._ckpt_wandb = dict(state.get(WANDB_KEY) or {})
        self._ckpt_progress = {"global_step": int(state.get("global_step", 0)), "epoch": int(state.get("epoch", 0))}
        data = config.get("data")
        if data is None:
            return
        saved = checkpoint_feature_settings(state)
        mismatches = feature_setting_mismatches(saved, dict(data), saved.get("inputs"))
        if mismatches and self.subcommand == "predict":
            for key, (theirs, _) in mismatches.items():
                data[key] = theirs
            rank_zero_warn(
                "predict uses the feature settings the checkpoint was trained with: "
                + ", ".join(f"data.{k} {theirs!r} (given: {ours!r})" for k, (theirs, ours) in mismatches.items())
            )
        elif mismatches:
            raise ValueError(
                f"The checkpoint {ckpt} was trained with other feature settings than this {self.subcommand} run: "
                + "; ".join(f"data.{k} is {ours!r} here but {theirs!r} in the checkpoint" for k, (theirs, ours) in mismatches.items())
                + ". Its scores would be silently wrong: pass the fit's settings (e.g. the same config files, or the "
                "run's config.yaml)."
            )
        if self.subcommand == "predict" and not data.get("classes"):
            names = (state.get(SERDataModule.__qualname__) or {}).get("class_names")
            data.classes = list(names) if names else None

    def _check_inputs(self) -> None:
        """The net's inputs must be among what the data module extracts, and its segments long
        enough for the net (both before any extraction)."""
        net, dm = getattr(self.model, "net", None), self.datamodule
        needs, has = tuple(getattr(net, "inputs", ())), tuple(getattr(dm, "inputs", ()))
        missing = [k for k in needs if k not in has]
        if missing:
            raise ValueError(
                f"{type(net).__name__} reads {list(needs)} but data.inputs is {list(has)}: "
                f"set --data.inputs '{list(needs)}' (missing {missing})."
            )
        min_frames = getattr(net, "min_frames", None)
        if "lld" in needs and min_frames and dm.num_frames < min_frames:
            fc = dm.feature_config
            extractor = fc.extractors["lld"].name
            if extractor != "is10_lld":
                raise ValueError(
                    f"data.segment_length {fc.segment_length} s gives {dm.num_frames} frames of {extractor}, but "
                    f"{type(net).__name__} needs at least {min_frames}: set a longer --data.segment_length."
                )
            need = (min_frames - 1) * fc.frame_shift + fc.frame_size
            raise ValueError(
                f"data.segment_length {fc.segment_length} s gives {dm.num_frames} LLD frames "
                f"(frame_size {fc.frame_size} s, frame_shift {fc.frame_shift} s), but {type(net).__name__} needs at least "
                f"{min_frames}: set --data.segment_length {need:.3f} or more (or a smaller data.frame_shift)."
            )
        min_samples = getattr(net, "min_samples", None)
        if "wave" in needs and min_samples and dm.segment_samples < min_samples:
            raise ValueError(
                f"data.segment_length {dm.feature_config.segment_length} s ({dm.segment_samples} samples) is shorter than "
                f"{type(net).__name__} accepts ({min_samples} samples at {dm.sample_rate} Hz): set --data.segment_length "
                f"{min_samples / dm.sample_rate:.3f} or more."
            )
        unused = [k for k in has if k not in needs]
        if unused:
            rank_zero_warn(f"data.inputs {unused} are extracted but {type(net).__name__} does not read them; drop them to save time.")

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        self._check_inputs()  # every path (also run=False callers), before any extraction

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """Every trainer gets :class:`~sermodels.results.RunResults` (learning curves, test files and pictures)."""
        trainer = super().instantiate_trainer(**kwargs)
        callbacks = trainer_callbacks(trainer)
        if not any(isinstance(cb, RunResults) for cb in callbacks):
            callbacks.append(RunResults())
        return trainer

    def _finish_wandb(self) -> None:
        """Close the W&B run when the subcommand ends, so a later one in this process starts its own."""
        for logger in wandb_loggers(self.trainer):
            if logger._experiment is not None and self.trainer.is_global_zero:
                logger.experiment.finish()

    def after_fit(self) -> None:
        self._finish_wandb()

    def after_test(self) -> None:
        self._finish_wandb()

    def after_validate(self) -> None:
        self._finish_wandb()

    def before_fit(self) -> None:
        """Store the resolved model and data config in every checkpoint, so the checkpoint alone
        rebuilds the model (``ser predict --ckpt_path X``, ``ser-export``); a resumed fit keeps the
        CSV history of the epochs before the checkpoint.

        CSVLogger deletes a run folder's ``metrics.csv`` when it starts; on ``--ckpt_path`` the rows
        logged before the checkpoint (``step < global_step``) are read first and written again, so
        ``metrics.csv`` holds every epoch once, as in an uninterrupted run.
        """
        config = self.config[self.subcommand] if self.subcommand else self.config
        dump = yaml.safe_load(self._parser(self.subcommand).dump(config, skip_none=False, skip_validation=True))
        trainer_callbacks(self.trainer).append(RunConfigInCheckpoint({"model": dump.get("model"), "data": dump.get("data") or {}}))
        progress = getattr(self, "_ckpt_progress", None)
        if progress is None:
            return
        for logger in self.trainer.loggers:
            if isinstance(logger, CSVLogger) and self.trainer.is_global_zero:
                kept = keep_csv_history(logger, progress["global_step"])
                rank_zero_info(f"Resuming from epoch {progress['epoch']} (step {progress['global_step']}): "
                               f"kept {kept} rows of {Path(logger.log_dir) / 'metrics.csv'}.")

    def before_predict(self) -> None:
        """``ser predict`` writes utterance-level predictions.csv (and a timeline) unless a writer is configured."""
        config = self.config[self.subcommand]
        callbacks = trainer_callbacks(self.trainer)
        if not any(isinstance(cb, UtterancePredictionWriter) for cb in callbacks):
            callbacks.append(UtterancePredictionWriter(
                output_dir=config.get("output"), timeline=bool(config.get("timeline")), overwrite=bool(config.get("overwrite"))))
        rank_zero_info(f"Predictions go to {config.get('output')}")


def trainer_callbacks(trainer: Trainer) -> list[Callback]:
    """The trainer's callback list, to add to in place. Lightning's callback connector sets it, so
    ``Trainer`` does not declare it for type checkers."""
    callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return callbacks


def checkpoint_class_names(ckpt_path: str) -> list[str] | None:
    """Class names stored by :class:`SERDataModule` in a checkpoint (None if absent).

    Raises:
        sermodels.checkpoint.CheckpointError: Missing file, or one a weights-only load refuses.
    """
    state = load_checkpoint(ckpt_path)
    names = (state.get(SERDataModule.__qualname__) or {}).get("class_names")
    return list(names) if names else None


def checkpoint_predict_args(argv: list[str]) -> list[str] | None:
    """``predict --ckpt_path X ...`` with no ``--config``: prepend X's stored model and feature config.

    Returns ``None`` (parse ``argv`` as given) for other subcommands, or when configs or no
    checkpoint are given. Later arguments override the stored ones as usual.
    """
    if not argv or argv[0] != "predict":
        return None
    if any(a in ("-c", "--config") or a.startswith(("--config=", "-c=")) for a in argv[1:]):
        return None
    ckpt = None
    for i, a in enumerate(argv[1:], start=1):
        if a == "--ckpt_path" and i + 1 < len(argv):
            ckpt = argv[i + 1]
        elif a.startswith("--ckpt_path="):
            ckpt = a.split("=", 1)[1]
    if not ckpt:
        return None
    state = read_checkpoint(ckpt)
    stored = {"model": model_config(state, ckpt), "data": predict_data_config(state, ckpt)}
    return ["predict", "--config", yaml.safe_dump(stored, sort_keys=False), *argv[1:]]


def keep_csv_history(logger: CSVLogger, global_step: int) -> int:
    """Carry the rows of ``logger``'s existing ``metrics.csv`` logged before ``global_step`` into the
    new run's file (which CSVLogger would otherwise start empty); returns how many were kept."""
    path = Path(logger.log_dir) / "metrics.csv"
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                step = row.get("step") or ""
                if step.lstrip("-").isdigit() and int(step) < global_step:
                    rows.append({k: v for k, v in row.items() if k is not None and v not in ("", None)})
    writer = logger.experiment  # creating the writer removes the old file
    writer.metrics[:0] = rows
    if rows:
        logger.save()
    return len(rows)


def run_tag(data: Any, seed_everything: Any) -> str:
    """Suffix naming a run's protocol, fold and seeds where they differ from the configs' defaults."""
    if data is None:
        return ""
    parts = []
    if data.get("protocol") == "speaker":
        parts.append(f"speaker-fold{data.get('fold', 0)}")
        if data.get("num_folds") is not None:  # fold k of another number of folds is another split
            parts.append(f"k{data.get('num_folds')}")
    if data.get("split_file"):
        parts.append(f"split-{Path(str(data.get('split_file'))).stem}")
    elif data.get("seed", 0) not in (0, None):
        parts.append(f"split{data.get('seed')}")
    if isinstance(seed_everything, int) and not isinstance(seed_everything, bool) and seed_everything != 0:
        parts.append(f"seed{seed_everything}")
    return "".join(f"-{p}" for p in parts)


def cli_main(args: list[str] | None = None, run: bool = True) -> SERCLI:
    """Entry point of ``ser fit | validate | test | predict``; ``args`` lets tests drive it."""
    return SERCLI(
        SERModule,
        SERDataModule,
        subclass_mode_model=True,
        args=args,
        run=run,
        save_config_callback=SERSaveConfigCallback,
        save_config_kwargs={"overwrite": True},
    )


def main() -> None:
    """Console-script entry point (returns nothing, so the exit status is 0 on success).

    ``ser export ...`` is ``ser-export ...`` (not a Trainer subcommand: it needs no trainer or data).
    """
    if sys.argv[1:2] == ["export"]:
        from sermodels.export import main as export_main

        export_main(sys.argv[2:])
        return
    cli_main()


if __name__ == "__main__":
    main()
