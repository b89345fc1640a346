"""The study scripts refuse a call that would fill a recipe folder with the defaults' runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "study_recipe.sh"


@pytest.mark.parametrize("step", ["final_emodb", "sta_recipe_emodb_speaker", "speaker_norm_recipe_ravdess", "speed_emodb150", "emodb8020_seeds5",
                                  "sta_speed_ravdess_speaker", "sta_arch_emodb", "sta_overlap_ravdess",
                                  "sta_speed_overlap_emodb", "sta_speed_overlap_ravdess_speaker"])
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


def _capture(tmp_path: Path, drop: tuple[str, ...] = (), **env: str) -> list[list[str]]:
    """Run the study script with a stub ``ser-experiment`` that records its arguments (one call per line);
    ``drop`` names variables of this environment that the script must not see."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir(parents=True)
    stub = bin_dir / "ser-experiment"
    stub.write_text(f'#!/usr/bin/env bash\nprintf "%s\\x1f" "$@" >> {calls}\necho >> {calls}\n')
    stub.chmod(0o755)
    full = {k: v for k, v in os.environ.items() if k not in drop}
    full.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", OUT=str(tmp_path / "study"), **env)
    proc = subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line.rstrip("\x1f").split("\x1f") for line in calls.read_text().splitlines()]


def test_corpus_variables_take_a_folder_or_a_feature_pack(tmp_path: Path) -> None:
    pack = tmp_path / "strl_ravdess.npz"
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    calls = _capture(tmp_path, STEPS="final_emodb_speaker150 final_ravdess_speaker150", RECIPE=recipe,
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(pack))
    emodb, ravdess = calls
    assert emodb[emodb.index("--data.root") + 1] == str(tmp_path / "EMODB") and "--data.pack" not in emodb
    assert ravdess[ravdess.index("--data.pack") + 1] == str(pack) and "--data.root" not in ravdess
    for call, corpus in ((emodb, "emodb"), (ravdess, "ravdess")):
        assert call[call.index("--out") + 1] == str(tmp_path / "study" / f"strl_{corpus}_recipe_speaker_150ep")
        assert "--folds" in call and f"configs/data/{corpus}.yaml" in call
        assert call[-4:] == recipe.split() and call[-6:-4] == ["--trainer.precision", "bf16-mixed"]
        assert "--trainer.max_epochs" not in call  # the paper's schedule, not the short one
    sta = _capture(tmp_path / "sta", STEPS="sta_emodb_speaker_2s", EMODB=str(tmp_path / "e.npz"))[0]
    assert sta[sta.index("--data.pack") + 1] == str(tmp_path / "e.npz") and "configs/model/sta_cnn.yaml" in sta


def test_speed_steps_refuse_a_feature_pack_and_pass_the_factors(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    env = dict(os.environ, STEPS="speed_final", RECIPE=recipe, EMODB=str(tmp_path / "e.npz"), RAVDESS=str(tmp_path),
               OUT=str(tmp_path / "study"))
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "EMODB is a feature pack" in proc.stderr
    assert not (tmp_path / "study").exists()
    calls = _capture(tmp_path / "ok", STEPS="speed_622 speed_baseline", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                     RAVDESS=str(tmp_path / "RAVDESS"))
    assert len(calls) == 4
    for call in calls:
        assert "data.speed_perturb=[0.9,1.1]" in call
    assert all("configs/model/baseline.yaml" in c for c in calls[2:]) and all("--folds" in c for c in calls[2:])
    assert all(c[-2:] == ["--model.init_args.net.init_args.hsf_dropout", "0.2"] for c in calls[:2])


def test_sta_speed_steps_run_sta_cnn_with_the_recipe_and_the_copies(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    env = {k: v for k, v in os.environ.items() if k != "RECIPE"}
    env.update(STEPS="sta_speed_emodb", EMODB=str(tmp_path), OUT=str(tmp_path / "study"))
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "step sta_speed_emodb needs RECIPE" in proc.stderr
    # from a (waveform) feature pack: the copies are rebuilt from its segments (a GPU box has no audio)
    (packed,) = _capture(tmp_path / "pack", STEPS="sta_speed_emodb_speaker", RECIPE=recipe, EMODB=str(tmp_path / "e.npz"))
    assert packed[packed.index("--data.pack") + 1] == str(tmp_path / "e.npz") and "data.speed_perturb=[0.9,1.1]" in packed
    calls = _capture(tmp_path / "ok", STEPS="sta_speed_emodb sta_speed_ravdess_speaker", RECIPE=recipe,
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    (emodb, ravdess) = calls
    assert emodb[emodb.index("--out") + 1] == str(tmp_path / "ok" / "study" / "sta_emodb_622_recipe_speed")
    assert ravdess[ravdess.index("--out") + 1] == str(tmp_path / "ok" / "study" / "sta_ravdess_speaker_recipe_speed")
    assert emodb[emodb.index("--seeds") + 1:emodb.index("--seeds") + 4] == ["0", "1", "2"] and "--folds" in ravdess
    for call, corpus in ((emodb, "emodb"), (ravdess, "ravdess")):
        assert "configs/model/sta_cnn.yaml" in call and f"configs/data/{corpus}.yaml" in call
        assert "data.speed_perturb=[0.9,1.1]" in call and call[-4:] == recipe.split()
        assert "--trainer.max_epochs" not in call  # STA-CNN's 150 epochs


def test_sta_arch_steps_run_the_architecture_gaps_on_top_of_the_recipe(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    calls = _capture(tmp_path, STEPS="sta_arch_emodb sta_arch_ravdess", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                     RAVDESS=str(tmp_path / "RAVDESS"))
    net = "model.init_args.net.init_args"
    assert [c[c.index("--out") + 1].rsplit("/", 1)[1] for c in calls] == [
        "sta_emodb_622_recipe_bn", "sta_emodb_622_recipe_gfe_mean", "sta_ravdess_622_recipe_bn_mean"]
    sets = [[c[i + 1] for i, a in enumerate(c) if a == "--set"] for c in calls]
    assert sets == [[f"{net}.batch_norm=true", f"{net}.gfe_pooling=sum,mean"], [f"{net}.gfe_pooling=mean"],
                    [f"{net}.batch_norm=true", f"{net}.gfe_pooling=mean"]]
    for call, corpus in zip(calls, ("emodb", "emodb", "ravdess")):
        assert call[call.index("--seeds") + 1:call.index("--seeds") + 4] == ["0", "1", "2"] and "--folds" not in call
        assert "configs/model/sta_cnn.yaml" in call and f"configs/data/{corpus}.yaml" in call
        assert call[call.index("--data.root") + 1] == str(tmp_path / corpus.upper()) and call[-4:] == recipe.split()
        assert "--trainer.max_epochs" not in call  # STA-CNN's 150 epochs
    speaker = _capture(tmp_path / "speaker", STEPS="sta_arch_emodb_speaker", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"))[0]
    assert speaker[speaker.index("--out") + 1].endswith("/sta_emodb_speaker_recipe_bn_mean") and "--folds" in speaker
    assert "--seeds" not in speaker and sets[2] == [speaker[i + 1] for i, a in enumerate(speaker) if a == "--set"]
    assert "configs/data/emodb.yaml" in speaker and speaker[-4:] == recipe.split()


def test_sta_overlap_steps_overlap_the_segments_on_top_of_the_recipe(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    calls = _capture(tmp_path, STEPS="sta_overlap_emodb sta_overlap_ravdess", RECIPE=recipe,
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    assert [c[c.index("--out") + 1].rsplit("/", 1)[1] for c in calls] == [
        "sta_emodb_622_recipe_overlap", "sta_ravdess_622_recipe_overlap"]  # beside sta_*_622_recipe: the same splits
    for call, corpus in zip(calls, ("emodb", "ravdess")):
        assert [call[i + 1] for i, a in enumerate(call) if a == "--set"] == ["data.segment_hop=1.0"]  # half of 2.0 s
        assert call[call.index("--seeds") + 1:call.index("--seeds") + 4] == ["0", "1", "2"] and "--folds" not in call
        assert "configs/model/sta_cnn.yaml" in call and f"configs/data/{corpus}.yaml" in call
        assert call[call.index("--data.root") + 1] == str(tmp_path / corpus.upper()) and call[-4:] == recipe.split()
        assert "--trainer.max_epochs" not in call  # STA-CNN's 150 epochs


def test_sta_speed_overlap_steps_add_the_overlap_to_the_best_configuration(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    (call,) = _capture(tmp_path, STEPS="sta_speed_overlap_emodb", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"))
    assert call[call.index("--out") + 1].endswith("/sta_emodb_622_recipe_speed_overlap")  # beside ..._recipe_speed
    assert [call[i + 1] for i, a in enumerate(call) if a == "--set"] == ["data.speed_perturb=[0.9,1.1]",
                                                                       "data.segment_hop=1.0"]
    assert call[call.index("--seeds") + 1:call.index("--seeds") + 4] == ["0", "1", "2"] and call[-4:] == recipe.split()
    assert "configs/model/sta_cnn.yaml" in call and "configs/data/emodb.yaml" in call


def test_sta_speed_overlap_speaker_steps_run_the_folds_beside_the_speed_copies(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    calls = _capture(tmp_path, STEPS="sta_speed_overlap_emodb_speaker sta_speed_overlap_ravdess_speaker", RECIPE=recipe,
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    assert [c[c.index("--out") + 1].rsplit("/", 1)[1] for c in calls] == [
        "sta_emodb_speaker_recipe_speed_overlap", "sta_ravdess_speaker_recipe_speed_overlap"]  # beside ..._recipe_speed
    for call, corpus in zip(calls, ("emodb", "ravdess")):
        assert [call[i + 1] for i, a in enumerate(call) if a == "--set"] == ["data.speed_perturb=[0.9,1.1]",
                                                                           "data.segment_hop=1.0"]
        assert "--folds" in call and "--seeds" not in call  # the fold count comes from the corpus
        assert "configs/model/sta_cnn.yaml" in call and f"configs/data/{corpus}.yaml" in call
        assert call[call.index("--data.root") + 1] == str(tmp_path / corpus.upper()) and call[-4:] == recipe.split()
        assert "speaker folds" in call[call.index("--title") + 1]


def test_ensemble_steps_name_their_folders_and_seeds(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    calls = _capture(tmp_path, STEPS="ensemble_emodb_speaker ensemble_ravdess_8020", RECIPE=recipe,
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    speaker, split = calls
    assert speaker[speaker.index("--out") + 1].endswith("strl_emodb_recipe_speaker_seeds3")
    assert speaker[speaker.index("--folds") + 1:speaker.index("--folds") + 5] == ["--fold-seeds", "0", "1", "2"]
    assert split[split.index("--out") + 1].endswith("strl_ravdess_recipe_8020_seeds3")
    assert split[split.index("--seeds") + 1:split.index("--seeds") + 8] == ["0", "1", "2", "--init-seeds", "0", "1", "2"]
    for call, corpus in ((speaker, "EMODB"), (split, "RAVDESS")):
        assert call[call.index("--data.root") + 1] == str(tmp_path / corpus) and call[-4:] == recipe.split()


def test_speed_at_the_paper_schedule_runs_one_corpus_without_the_short_schedule(tmp_path: Path) -> None:
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    # one invocation: the paper-schedule step must not change the short-schedule step after it
    calls = _capture(tmp_path, STEPS="speed_emodb150 speed_final", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                     RAVDESS=str(tmp_path / "RAVDESS"))
    assert [c[c.index("--out") + 1].rsplit("/", 1)[1] for c in calls] == [
        "strl_emodb_recipe_speed_8020_150ep", "strl_emodb_recipe_speed_speaker_150ep",
        *(f"strl_{c}_recipe_speed_{p}" for c in ("emodb", "ravdess") for p in ("8020", "speaker"))]
    for i, call in enumerate(calls):
        assert "data.speed_perturb=[0.9,1.1]" in call
        assert call[-8:] == ["--trainer.precision", "bf16-mixed", *recipe.split(), "--model.init_args.net.init_args.hsf_dropout", "0.2"]
        if i < 2:  # the paper's 150 epochs x0.95 (the config's own schedule), EMO-DB only
            assert "--trainer.max_epochs" not in call and "configs/data/emodb.yaml" in call
            assert "the paper's 150 epochs" in call[call.index("--title") + 1]
        else:
            assert call[call.index("--trainer.max_epochs") + 1] == "30"
            assert call[call.index("--model.init_args.scheduler.init_args.gamma") + 1] == "0.9"
    # the step reads only its own corpus: a RAVDESS feature pack does not block an EMO-DB step
    only = _capture(tmp_path / "one", STEPS="speed_emodb150", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                    RAVDESS=str(tmp_path / "r.npz"))
    assert len(only) == 2


def test_the_baseline_speed_step_needs_no_recipe(tmp_path: Path) -> None:
    calls = _capture(tmp_path, drop=("RECIPE",), STEPS="speed_baseline", EMODB=str(tmp_path / "EMODB"),
                     RAVDESS=str(tmp_path / "RAVDESS"))
    assert len(calls) == 2
    for call, corpus in zip(calls, ("emodb", "ravdess")):
        assert "configs/model/baseline.yaml" in call and f"configs/data/{corpus}.yaml" in call
        assert "data.speed_perturb=[0.9,1.1]" in call and "--folds" in call


def test_the_recipe_ablation_and_the_speaker_normalised_best_configuration(tmp_path: Path) -> None:
    """speed_norecipe_622 drops exactly the recipe from speed_622's configuration (and runs without RECIPE);
    speed_speaker_norm adds speaker normalisation to speed_final's speaker rows."""
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    ablation = _capture(tmp_path / "a", drop=("RECIPE",), STEPS="speed_norecipe_622", EMODB=str(tmp_path / "EMODB"),
                        RAVDESS=str(tmp_path / "RAVDESS"))
    full = _capture(tmp_path / "f", STEPS="speed_622", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                    RAVDESS=str(tmp_path / "RAVDESS"))
    for without, with_recipe, corpus in zip(ablation, full, ("emodb", "ravdess"), strict=True):
        assert without[without.index("--out") + 1] == str(tmp_path / "a" / "study" / f"strl_{corpus}_622_speed_norecipe")
        ser_args = with_recipe[with_recipe.index("--") + 1:]
        at = ser_args.index("--model.init_args.label_smoothing")
        assert ser_args[at:at + 4] == recipe.split()
        assert without[without.index("--") + 1:] == ser_args[:at] + ser_args[at + 4:]  # the same, less the recipe
        assert "data.speed_perturb=[0.9,1.1]" in without and "data.ratios=[0.6,0.2,0.2]" in without
    proc = subprocess.run(["bash", str(SCRIPT)], env={**{k: v for k, v in os.environ.items() if k != "RECIPE"},
                          "STEPS": "speed_speaker_norm", "OUT": str(tmp_path / "x")}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "step speed_speaker_norm needs RECIPE" in proc.stderr
    calls = _capture(tmp_path / "s", STEPS="speed_speaker_norm", RECIPE=recipe, EMODB=str(tmp_path / "EMODB"),
                     RAVDESS=str(tmp_path / "RAVDESS"))
    for call, corpus in zip(calls, ("emodb", "ravdess"), strict=True):
        assert call[call.index("--out") + 1] == str(tmp_path / "s" / "study" / f"strl_{corpus}_recipe_speed_speaker_norm")
        assert "--folds" in call and "data.speed_perturb=[0.9,1.1]" in call and call[-2:] == ["--data.speaker_norm", "true"]
        assert call[-4:-2] == ["--model.init_args.net.init_args.hsf_dropout", "0.2"] and set(recipe.split()) <= set(call)
    base = _capture(tmp_path / "b", drop=("RECIPE",), STEPS="speed_speaker_norm_baseline", EMODB=str(tmp_path / "EMODB"),
                    RAVDESS=str(tmp_path / "RAVDESS"))
    for call, corpus in zip(base, ("emodb", "ravdess"), strict=True):
        assert call[call.index("--out") + 1] == str(tmp_path / "b" / "study" / f"baseline_{corpus}_speed_speaker_norm")
        assert "configs/model/baseline.yaml" in call and "--folds" in call and "data.speed_perturb=[0.9,1.1]" in call
        assert call[-2:] == ["--data.speaker_norm", "true"]


def test_speaker_normalisation_at_the_papers_schedule(tmp_path: Path) -> None:
    calls = _capture(tmp_path, drop=("RECIPE",), STEPS="speaker_norm_emodb150 speaker_norm_ravdess150",
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    for call, corpus in zip(calls, ("emodb", "ravdess"), strict=True):
        assert call[call.index("--out") + 1] == str(tmp_path / "study" / f"strl_{corpus}_speaker_norm_150ep")
        assert "--folds" in call and f"configs/data/{corpus}.yaml" in call and call[-2:] == ["--data.speaker_norm", "true"]
        assert "--trainer.max_epochs" not in call and "bf16-mixed" in call  # the paper's 150 epochs


def test_the_sta_bf16_step_runs_both_precisions_on_the_same_splits(tmp_path: Path) -> None:
    (call,) = _capture(tmp_path, drop=("RECIPE",), STEPS="sta_bf16_emodb", EMODB=str(tmp_path / "EMODB"))
    assert call[call.index("--out") + 1] == str(tmp_path / "study" / "sta_emodb_622_precision")
    assert call[call.index("--set") + 1] == "trainer.precision=32-true,bf16-mixed"
    assert call[call.index("--seeds") + 1:call.index("--seeds") + 4] == ["0", "1", "2"]
    assert "configs/model/sta_cnn.yaml" in call and "configs/data/emodb.yaml" in call


def test_five_seeds_step_repeats_the_three_emodb_8020_rows_with_the_baselines_seeds(tmp_path: Path) -> None:
    """emodb8020_seeds5 makes exactly the EMO-DB 80/20 calls of speed_emodb150, schedule150 and final_emodb150 (same
    folders, same arguments, the baseline's 5 seeds), no speaker folds; the steps after it still run theirs."""
    recipe = "--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2"
    env = dict(RECIPE=recipe, EMODB=str(tmp_path / "EMODB"))
    five = _capture(tmp_path / "five", STEPS="emodb8020_seeds5 speed_emodb150", **env)
    alone = _capture(tmp_path / "alone", STEPS="speed_emodb150 schedule150 final_emodb150", **env)
    assert len(five) == 5 and len(alone) == 4

    def folder(call: list[str]) -> str:
        return call[call.index("--out") + 1].rsplit("/", 1)[1]

    def portable(call: list[str]) -> list[str]:  # each capture writes under its own OUT
        return [folder(call) if i == 1 else a for i, a in enumerate(call)]

    assert [folder(c) for c in five[:3]] == ["strl_emodb_recipe_speed_8020_150ep", "strl_emodb_8020_150ep_bf16",
                                             "strl_emodb_recipe_8020_150ep"]
    for call in five[:3]:
        i = call.index("--seeds")
        assert call[i:i + 7] == ["--seeds", "0", "1", "2", "3", "4", "--jobs"] and "--folds" not in call
    assert [portable(c) for c in five[:3]] == [portable(c) for c in (alone[0], alone[2], alone[3])]
    # the protocols narrowed for the step only: speed_emodb150 after it runs 80/20 and the speaker folds again
    assert [portable(c) for c in five[3:]] == [portable(c) for c in alone[:2]] and "--folds" in alone[1]
    refused = subprocess.run(["bash", str(SCRIPT)], env=dict(os.environ, STEPS="emodb8020_seeds5", RECIPE=recipe,
                                                             EMODB=str(tmp_path / "e.npz"), OUT=str(tmp_path / "s")),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "needs the corpus audio" in refused.stderr  # its speed copies read the audio
    assert not (tmp_path / "s").exists()  # refused before any run started


def test_both_corpora_run_the_defaults_at_the_papers_schedule_on_the_baselines_5_seeds(tmp_path: Path) -> None:
    """schedule150 (EMO-DB) and ravdess150 (RAVDESS): STRL-SER's defaults on 80/20 at the paper's 150 epochs, with
    the linear baseline's seeds 0-4, so every seed pairs with a baseline split."""
    calls = _capture(tmp_path, drop=("RECIPE",), STEPS="schedule150 ravdess150",
                     EMODB=str(tmp_path / "EMODB"), RAVDESS=str(tmp_path / "RAVDESS"))
    for call, corpus in zip(calls, ("emodb", "ravdess"), strict=True):
        assert call[call.index("--out") + 1] == str(tmp_path / "study" / f"strl_{corpus}_8020_150ep_bf16")
        i = call.index("--seeds") + 1
        assert call[i:i + 6] == ["0", "1", "2", "3", "4", "--jobs"]
        assert f"configs/data/{corpus}.yaml" in call and call[-2:] == ["--trainer.precision", "bf16-mixed"]
        assert "--trainer.max_epochs" not in call and "--folds" not in call
