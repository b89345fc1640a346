"""The recipe "how to add a model", done exactly as written with a toy net, on synthetic audio.

1. Write the net: a plain ``nn.Module`` with a class attribute ``inputs`` (the batch keys its
   ``forward`` takes) and ``num_classes`` in ``__init__`` (tests/recipe_toy_net.py).
2. Write one model file, ``configs/model/<name>.yaml`` (:data:`MODEL_YAML`): the net and its
   optimiser under ``model`` (class ``sermodels.module.SERModule``), the data settings the net
   needs (``inputs``, segment length), its epochs, checkpoint callback and run-folder name.
3. Run it on any corpus: ``ser fit -c configs/trainer.yaml -c configs/model/<name>.yaml
   -c configs/data/<corpus>.yaml``, then ``ser test`` with the same files and ``--ckpt_path``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sermodels.cli import cli_main
from tests.compose import CONFIGS
from tests.conftest import TINY_SYNTHETIC

#: Step 2: the model file (in the repository it would be configs/model/tiny.yaml).
MODEL_YAML = """\
# TinyNet: log band energies of waveform segments + a linear layer (the recipe's toy model).
trainer:
  max_epochs: 1
  logger:
    init_args:
      name: tiny                # runs/tiny/<corpus>/
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args:
        save_last: true
        filename: latest
        enable_version_counter: false
model:
  class_path: sermodels.module.SERModule
  init_args:
    net:
      class_path: tests.recipe_toy_net.TinyNet
      init_args:
        bands: 8
    optimizer:
      class_path: torch.optim.Adam
      init_args:
        lr: 0.01
data:
  inputs: [wave]
  segment_length: 1.0
  batch_size: 8
"""


def test_add_a_model_recipe(ser_cache: Path, tmp_path: Path) -> None:
    model_file = tmp_path / "configs" / "model" / "tiny.yaml"
    model_file.parent.mkdir(parents=True)
    model_file.write_text(MODEL_YAML)
    # Step 3, with the shared trainer file and the synthetic corpus file (the rest keeps the test small and in tmp).
    configs = ["-c", str(CONFIGS / "trainer.yaml"), "-c", str(model_file), "-c", str(CONFIGS / "data" / "synthetic.yaml")]
    runs = tmp_path / "runs"
    plumbing = [f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
                "--data.extract_workers=0", "--data.progress=false", f"--trainer.logger.init_args.save_dir={runs}",
                "--trainer.enable_progress_bar=false"]
    fit = cli_main(["fit", *configs, *plumbing])
    assert fit.trainer.current_epoch == 1 and type(fit.model.net).__name__ == "TinyNet"
    run = runs / "tiny" / "synthetic"
    assert (run / "config.yaml").is_file() and (run / "metrics.csv").is_file()
    ckpt = run / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()

    cli_main(["test", *configs, *plumbing, f"--ckpt_path={ckpt}"])
    out = runs / "tiny" / "synthetic-test"
    record = json.loads((out / "test_metrics.json").read_text())
    assert record["model"] == "TinyNet" and record["class_names"] == ["neutral", "happy", "angry", "sad"]
    assert 0.0 <= record["ua"] <= 1.0 and record["checkpoint"]["path"] == str(ckpt.resolve())
    assert record["features"]["inputs"] == ["wave"] and record["features"]["segment_length"] == 1.0
    rows = list(csv.DictReader((out / "test_predictions.csv").open()))
    assert len(rows) == record["num_utterances"] > 0
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
