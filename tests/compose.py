"""The config compositions the tests use: trainer + model + corpus (+ the pair's experiment file)."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
#: Every model file (configs/model/<model>.yaml) and corpus file (configs/data/<corpus>.yaml): a new
#: file is picked up by the composition and smoke tests without editing them.
MODELS = tuple(sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml")))
CORPORA = tuple(sorted(p.stem for p in (CONFIGS / "data").glob("*.yaml")))


def config_files(model: str, corpus: str) -> list[Path]:
    """``configs/trainer.yaml``, ``model/<model>.yaml``, ``data/<corpus>.yaml`` and, where it exists,
    ``experiment/<model>_<corpus>.yaml``: the files a README command composes, in order."""
    files = [CONFIGS / "trainer.yaml", CONFIGS / "model" / f"{model}.yaml", CONFIGS / "data" / f"{corpus}.yaml"]
    experiment = CONFIGS / "experiment" / f"{model}_{corpus}.yaml"
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"No config file {missing}: model {model!r} / corpus {corpus!r} (see configs/).")
    return [*files, experiment] if experiment.is_file() else files


def config_args(model: str = "strl_ser", corpus: str = "synthetic") -> list[str]:
    """``--config=<file>`` for each of :func:`config_files`."""
    return [f"--config={f}" for f in config_files(model, corpus)]
