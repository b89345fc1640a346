"""The ``ser`` command: LightningCLI over :class:`SERModule` subclasses and :class:`SERDataModule`."""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI

from datamodules.datamodule import SERDataModule
from sermodels.module import SERModule
from sermodels.predict import UtterancePredictionWriter

__all__ = ["SERCLI", "cli_main", "main"]


class SERCLI(LightningCLI):
    """Links what the data decides into the model, so no value is typed twice."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.init_args.class_names", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.net.init_args.num_classes", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """Keep fit's logs: ``test``/``validate``/``predict`` write to ``<version>-<subcommand>``.

        CSVLogger deletes an existing run folder's metrics when it is reused, so a fixed logger
        version (as in the configs, which keeps checkpoint paths predictable) would wipe the
        training curves on ``ser test``.
        """
        if self.subcommand not in ("test", "validate", "predict"):
            return
        logger = self.config[self.subcommand].trainer.get("logger")
        init = getattr(logger, "init_args", None) if logger is not None and not isinstance(logger, bool) else None
        version = getattr(init, "version", None) if init is not None else None
        if isinstance(version, str) and version and not version.endswith(f"-{self.subcommand}"):
            init.version = f"{version}-{self.subcommand}"

    def before_predict(self) -> None:
        """``ser predict`` writes utterance-level predictions.csv unless a writer is configured."""
        if not any(isinstance(cb, UtterancePredictionWriter) for cb in self.trainer.callbacks):
            self.trainer.callbacks.append(UtterancePredictionWriter())


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
    """Console-script entry point (returns nothing, so the exit status is 0 on success)."""
    cli_main()


if __name__ == "__main__":
    main()
