"""The study scripts refuse a call that would fill a recipe folder with the defaults' runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "study_recipe.sh"


@pytest.mark.parametrize("step", ["final_emodb", "sta_recipe_emodb_speaker", "speaker_norm_recipe_ravdess"])
def test_recipe_steps_need_a_recipe(step: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RECIPE"}
    env.update(STEPS=step, EMODB=str(tmp_path), OUT=str(tmp_path / "study"))
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"step {step} needs RECIPE" in proc.stderr
    assert not (tmp_path / "study").exists()  # refused before any run started


def test_unknown_step_is_named(tmp_path: Path) -> None:
    env = dict(os.environ, STEPS="no_such_step", OUT=str(tmp_path / "study"))
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown step: no_such_step" in proc.stderr
