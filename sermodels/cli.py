"""The ``ser`` command: LightningCLI over :class:`SERModule` subclasses and :class:`SERDataModule`."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from datamodules.datamodule import SERDataModule
from sermodels.checkpoint import RunConfigInCheckpoint, model_config, predict_data_config, read_checkpoint
from sermodels.module import SERModule
from sermodels.predict import UtterancePredictionWriter
from sermodels.predict_report import claim_output_dir

__all__ = ["SERCLI", "cli_main", "main", "run_tag", "checkpoint_class_names", "checkpoint_predict_args"]

_EVAL_SUBCOMMANDS = ("test", "validate", "predict")


class SERCLI(LightningCLI):
    """Links what the data decides into the model, so no value is typed twice."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.init_args.class_names", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.net.init_args.num_classes", apply_on="instantiate")

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any):  # type: ignore[no-untyped-def]
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

    def parse_arguments(self, parser, args) -> None:  # type: ignore[no-untyped-def]
        """``ser predict --ckpt_path X`` without ``--config``: the model and feature settings come from X."""
        argv = list(sys.argv[1:] if args is None else args) if args is None or isinstance(args, (list, tuple)) else None
        expanded = checkpoint_predict_args(argv) if argv is not None else None
        if expanded is None:
            super().parse_arguments(parser, args)
            return
        self.config = parser.parse_args(expanded)

    def before_instantiate_classes(self) -> None:
        """Give every run its own logger folder, so no run overwrites another's checkpoints or logs.

        - CSV/TensorBoard: the configured ``version`` (e.g. ``ravdess``) gets the run's protocol,
          fold and seeds unless they are the configs' defaults (``ravdess-speaker-fold3``,
          ``ravdess-split1-seed1``); ``test``/``validate``/``predict`` add ``-<subcommand>``
          (CSVLogger wipes a reused folder's metrics, which would erase fit's training curves).
          Idempotent: a run's saved ``config.yaml`` passed back in keeps its folder name.
        - W&B: the configs' ``version`` would make every run (and every sweep trial) reuse one W&B
          run id, so it is dropped (W&B makes a unique id; ``--trainer.logger.init_args.id``
          resumes a given run) and the run is *named* after the tagged version instead.
        """
        if self.subcommand in _EVAL_SUBCOMMANDS:
            # They log to `<version>-<subcommand>`, so restoring a ModelCheckpoint always reports a
            # changed folder; the restored weights are the --ckpt_path ones, nothing is lost.
            warnings.filterwarnings("ignore", message="The dirpath has changed from", category=UserWarning)
        config = self.config[self.subcommand] if self.subcommand else self.config
        if self.subcommand == "predict" and not config.data.get("classes") and config.get("ckpt_path"):
            # The model is built before the checkpoint loads: take its class names from the file,
            # so predicting with a csv/folder-corpus model needs neither the corpus nor data.classes.
            config.data.classes = checkpoint_class_names(config.ckpt_path)
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
        if isinstance(version, str) and version:
            for suffix in (f"-{c}" for c in _EVAL_SUBCOMMANDS):
                version = version.removesuffix(suffix)
            tag = run_tag(config.get("data"), config.get("seed_everything"))
            if tag and not version.endswith(tag):
                version += tag
        if str(getattr(logger, "class_path", "")).endswith("WandbLogger"):
            if init.get("id") is None:
                init.version = None
            if isinstance(version, str) and version:
                init.name = version  # the W&B display name: e.g. ravdess-speaker-fold3
            return
        if not isinstance(version, str) or not version:
            return
        if self.subcommand in _EVAL_SUBCOMMANDS:
            version += f"-{self.subcommand}"
        init.version = version

    def _check_inputs(self) -> None:
        """The net's inputs must be among what the data module extracts (before any extraction)."""
        net, dm = getattr(self.model, "net", None), self.datamodule
        needs, has = tuple(getattr(net, "inputs", ())), tuple(getattr(dm, "inputs", ()))
        missing = [k for k in needs if k not in has]
        if missing:
            raise ValueError(
                f"{type(net).__name__} reads {list(needs)} but data.inputs is {list(has)}: "
                f"set --data.inputs '{list(needs)}' (missing {missing})."
            )
        unused = [k for k in has if k not in needs]
        if unused:
            rank_zero_warn(f"data.inputs {unused} are extracted but {type(net).__name__} does not read them; drop them to save time.")

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        self._check_inputs()  # every path (also run=False callers), before any extraction

    def before_fit(self) -> None:
        """Store the resolved model and data config in every checkpoint, so the checkpoint alone
        rebuilds the model (``ser predict --ckpt_path X``, ``ser-export``)."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        dump = yaml.safe_load(self._parser(self.subcommand).dump(config, skip_none=False, skip_validation=True))
        self.trainer.callbacks.append(RunConfigInCheckpoint({"model": dump.get("model"), "data": dump.get("data") or {}}))

    def before_predict(self) -> None:
        """``ser predict`` writes utterance-level predictions.csv (and a timeline) unless a writer is configured."""
        config = self.config[self.subcommand]
        if not any(isinstance(cb, UtterancePredictionWriter) for cb in self.trainer.callbacks):
            self.trainer.callbacks.append(UtterancePredictionWriter(
                output_dir=config.get("output"), timeline=bool(config.get("timeline")), overwrite=bool(config.get("overwrite"))))
        rank_zero_info(f"Predictions go to {config.get('output')}")


def checkpoint_class_names(ckpt_path: str) -> list[str] | None:
    """Class names stored by :class:`SERDataModule` in a checkpoint (None if absent/unreadable)."""
    try:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False, mmap=True)
    except Exception:  # noqa: BLE001 - missing / not a checkpoint: Lightning reports it with the path
        return None
    names = state.get(SERDataModule.__qualname__, {}).get("class_names") if isinstance(state, dict) else None
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
