"""Write docs/reproduction.md (and docs/results.md's summary table) from the study ledger, ``docs/study/``.

    python scripts/reproduction_report.py --study ~/study --out docs/reproduction.md --results docs/results.md

``--study`` first syncs the ledger from ``ser-experiment`` folders (``make report STUDY=~/study``); without it the
pages are rendered from the committed ledger alone, so they regenerate from a fresh clone.

Every row is one reading of a paper's gap (an experiment folder's grid point under one protocol):
WA and UA as mean ± std over seeds or folds, the linear baseline on the same splits beside it,
and the paper's number. Leaky readings are labelled. Folders not yet run are listed as such.
The experiment folders are made by the scripts named in ``STUDY`` (``scripts/study_*.sh``).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Folders of one machine that must never reach the committed ledger (checked on every entry ``sync`` writes).
from sermodels.experiment import MACHINE_PATH, ROOT_PLACEHOLDERS, home_tilde

# The papers' reported accuracies (WA, %), per model, corpus and split (their results tables; see docs/results.md).
PAPER_WA = {
    ("STRL-SER", "ravdess", "80/20"): 88.88,
    ("STRL-SER", "iemocap", "80/20"): 81.60,
    ("STA-CNN", "emodb", "6:2:2"): 80.23,
    ("STA-CNN", "ravdess", "6:2:2"): 76.39,
    ("STA-CNN", "iemocap", "6:2:2"): 71.96,
    ("STA-CNN", "savee", "6:2:2"): 80.09,
}

# Baseline experiment folder per corpus and split: (folder, protocol).
BASELINE = {
    ("emodb", "80/20"): ("baseline_emodb_8020", "paper"),
    ("emodb", "speaker"): ("baseline_emodb_8020", "speaker"),
    ("emodb", "6:2:2"): ("baseline_emodb_622", "paper"),
    ("ravdess", "80/20"): ("baseline_ravdess_8020", "paper"),
    ("ravdess", "speaker"): ("baseline_ravdess_8020", "speaker"),
    ("ravdess", "6:2:2"): ("baseline_ravdess_622", "paper"),
}


@dataclass(frozen=True)
class Study:
    """One experiment folder of the study and what its rows mean."""

    folder: str
    model: str
    corpus: str
    split: str  # "80/20", "6:2:2" (paper protocol) — speaker-protocol rows are labelled "speaker"
    reading: str
    schedule: str
    script: str
    leaky: bool = False
    versus: str = ""  # the baseline folder its Δ is paired with (same protocol and trials); "": BASELINE's


# The reading of every row run with speaker normalisation (data.speaker_norm), and where its Δ points.
SPEAKER_NORM = "opt-in speaker normalisation (transductive for unseen speakers)"
VERSUS_NOTE = "Δ against the baseline with the same speaker normalisation"
# The models the Δ figure shows (the baseline's own variants are rows of the table, not bars).
PAIRED_MODELS = ("STRL-SER", "STA-CNN")


# The reading of every row run with the study's opt-in recipe (scripts/study_recipe.sh, RECIPE).
RECIPE = "defaults + opt-in label smoothing 0.1 and mixup 0.2"
HSF_DROPOUT = "opt-in functionals dropout 0.2"
SPEED = "opt-in speed perturbation 0.9/1.1 of the training audio"
# STA-CNN's architecture gaps (scripts/study_recipe.sh sta_arch_*): opt-in, the paper names neither.
BATCH_NORM = "opt-in BatchNorm after each convolution"
GFE_MEAN = "GFE outputs averaged over positions (Eq. 6 sums them)"
OVERLAP = "overlapping segments (2.0 s, hop 1.0 s; the paper leaves overlap open)"

# The reading of every STA-CNN row run with its opt-in feature masking (scripts/study_recipe.sh, MASKS).
MASKING = "defaults + opt-in SpecAugment-style masking (2 bands of <8 features, 2 spans of <20 frames)"
MASKING_RECIPE = MASKING + " + opt-in label smoothing 0.1 and mixup 0.2"

# The grid point of a group's seed ensemble (ser-experiment --fold-seeds / --init-seeds) in the ledger.
ENSEMBLE = "+seed-ensemble"
ENSEMBLE_READING = "the {n} seeds' ensemble (class probabilities averaged per utterance; nothing selected)"

SEEDS5_STEP = "scripts/study_recipe.sh (emodb8020_seeds5)"


def _masking_study(corpus: str, split: str, name: str, reading: str) -> Study:
    """A row of STA-CNN's masking steps: folder sta_<corpus>_{622,speaker}_<name>, made by study_recipe.sh's
    sta_<name> (6:2:2) or sta_<name>_<corpus>_speaker."""
    tag, step = ("622", f"sta_{name}") if split == "6:2:2" else ("speaker", f"sta_{name}_{corpus}_speaker")
    return Study(f"sta_{corpus}_{tag}_{name}", "STA-CNN", corpus, split, reading + ", best on val.", "150 ep",
                 f"scripts/study_recipe.sh ({step})")


STUDY = [
    Study("strl_emodb_hsf_segment", "STRL-SER", "emodb", "80/20", "branch tokens, HSFs per segment", "30 ep, lr x0.9",
          "scripts/study_strl_ser_emodb.sh"),
    Study("strl_emodb_hsf_utterance", "STRL-SER", "emodb", "80/20", "HSFs per utterance", "30 ep, lr x0.9", "scripts/study_strl_ser_emodb.sh"),
    Study("strl_emodb_leaky_segment_split", "STRL-SER", "emodb", "80/20",
          "segment-level split, branch tokens, HSFs per utterance", "30 ep, lr x0.9", "scripts/study_strl_ser_emodb.sh", leaky=True),
    Study("strl_emodb_fusion_622", "STRL-SER", "emodb", "6:2:2", "HSFs per utterance", "30 ep, lr x0.9", "scripts/study_more.sh"),
    Study("strl_emodb_hsf_segment_622", "STRL-SER", "emodb", "6:2:2", "branch tokens, HSFs per segment", "30 ep, lr x0.9",
          "scripts/study_more.sh"),
    Study("strl_emodb_speaker", "STRL-SER", "emodb", "speaker", "fusion tokens = branches", "30 ep, lr x0.9", "scripts/study_more.sh"),
    # Second round (scripts/study_recipe.sh): bf16-mixed, which matched fp32 on the same splits (first row below).
    Study("strl_emodb_622_bf16", "STRL-SER", "emodb", "6:2:2", "defaults (branch tokens, HSFs per utterance), bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (bf16)"),
    Study("strl_emodb_622_recipe_mixup_alpha", "STRL-SER", "emodb", "6:2:2", "defaults + opt-in mixup, bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (recipe)"),
    Study("strl_emodb_622_recipe_label_smoothing", "STRL-SER", "emodb", "6:2:2", "defaults + opt-in label smoothing, bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (recipe)"),
    Study("strl_emodb_622_recipe_weight_decay", "STRL-SER", "emodb", "6:2:2", "defaults + opt-in weight decay, bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (recipe)"),
    Study("strl_emodb_622_recipe_dropout", "STRL-SER", "emodb", "6:2:2", "defaults with dropout 0.5 (not 0.3), bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (recipe)"),
    Study("strl_emodb_622_overlap", "STRL-SER", "emodb", "6:2:2", "defaults, overlapping segments, bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (readings)"),
    Study("strl_emodb_622_lld_only", "STRL-SER", "emodb", "6:2:2", "LLDs only (no functionals branch), bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (readings)"),
    # EMO-DB 80/20 at the paper's schedule: first 3 seeds (schedule150, final_emodb150, speed_emodb150), then the
    # baseline's 5 into the same folders (emodb8020_seeds5: seeds 0-2 repeated, 3-4 added; schedule150 runs 5 since).
    Study("strl_emodb_8020_150ep_bf16", "STRL-SER", "emodb", "80/20", "defaults, bf16", "150 ep, lr x0.95 (paper)",
          "scripts/study_recipe.sh (schedule150)"),
    Study("strl_ravdess_8020_150ep_bf16", "STRL-SER", "ravdess", "80/20", "defaults, bf16", "150 ep, lr x0.95 (paper)",
          "scripts/study_recipe.sh (ravdess150)"),
    Study("strl_ravdess_speaker", "STRL-SER", "ravdess", "speaker", "defaults, bf16", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (ravdess_speaker)"),
    Study("sta_emodb_input", "STA-CNN", "emodb", "6:2:2", "segments (first default 2.0 s), best on val.",
          "60 ep", "scripts/study_recipe.sh (sta_input)"),
    Study("sta_emodb_crop", "STA-CNN", "emodb", "6:2:2", "one 3 s crop per utterance, best on val.",
          "60 ep", "scripts/study_recipe.sh (sta_input)"),
    Study("sta_emodb_150ep", "STA-CNN", "emodb", "6:2:2", "1.0 s segments, best on val.", "150 ep", "scripts/study_recipe.sh (sta_epochs)"),
    Study("sta_ravdess_622", "STA-CNN", "ravdess", "6:2:2", "1.0 s segments (chosen on EMO-DB alone), best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_ravdess)"),
    Study("sta_ravdess_input", "STA-CNN", "ravdess", "6:2:2", "segments, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_input_ravdess)"),
    Study("sta_emodb_150ep_2s", "STA-CNN", "emodb", "6:2:2", "2.0 s segments, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_emodb_2s150)"),
    Study("sta_emodb_speaker_2s", "STA-CNN", "emodb", "speaker", "defaults: 2.0 s segments, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_emodb_speaker_2s)"),
    Study("sta_emodb_speaker", "STA-CNN", "emodb", "speaker", "1.0 s segments, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_emodb_speaker)"),
    Study("sta_ravdess_speaker", "STA-CNN", "ravdess", "speaker", "defaults: 2.0 s segments, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_ravdess_speaker)"),
    Study("strl_emodb_speaker_150ep", "STRL-SER", "emodb", "speaker", "defaults, bf16", "150 ep, lr x0.95 (paper)",
          "scripts/study_recipe.sh (emodb_speaker150)"),
    Study("strl_ravdess_speaker_150ep", "STRL-SER", "ravdess", "speaker", "defaults, bf16", "150 ep, lr x0.95 (paper)",
          "scripts/study_recipe.sh (ravdess_speaker150)"),
    Study("strl_ravdess_622_recipe", "STRL-SER", "ravdess", "6:2:2", "defaults, bf16", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (recipe_ravdess)"),
    # The recipe chosen on RAVDESS 6:2:2 validation (recipe_ravdess: label smoothing 0.1 + mixup 0.2), under the
    # reported protocols, beside the defaults' rows at the same schedule (strl_ravdess_hsf_utterance, *_speaker).
    Study("strl_ravdess_recipe_8020", "STRL-SER", "ravdess", "80/20", RECIPE + ", bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (final_ravdess)"),
    Study("strl_ravdess_recipe_speaker", "STRL-SER", "ravdess", "speaker",
          RECIPE + ", bf16", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (final_ravdess_speaker)"),
    Study("strl_emodb_recipe_8020", "STRL-SER", "emodb", "80/20", RECIPE + ", bf16",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (final_emodb)"),
    Study("strl_emodb_recipe_speaker", "STRL-SER", "emodb", "speaker",
          RECIPE + ", bf16", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (final_emodb)"),
    # The recipe at the paper's schedule: 80/20 (final_<corpus>150) and across speakers (final_<corpus>_speaker150).
    *(Study(f"strl_{corpus}_recipe_{tag}_150ep", "STRL-SER", corpus, split, RECIPE + ", bf16", "150 ep, lr x0.95 (paper)",
            SEEDS5_STEP if (corpus, tag) == ("emodb", "8020") else f"scripts/study_recipe.sh (final_{corpus}{step}150)")
      for tag, split, step in (("speaker", "speaker", "_speaker"), ("8020", "80/20", "")) for corpus in ("ravdess", "emodb")),
    # STRL-SER's recipe on STA-CNN (does it carry over?), beside sta_ravdess_input 2.0 s / sta_emodb_150ep_2s.
    Study("sta_ravdess_622_recipe", "STA-CNN", "ravdess", "6:2:2",
          RECIPE + ", best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_recipe_ravdess)"),
    Study("sta_emodb_622_recipe", "STA-CNN", "emodb", "6:2:2",
          RECIPE + ", best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_recipe_emodb)"),
    Study("sta_ravdess_speaker_recipe", "STA-CNN", "ravdess", "speaker",
          RECIPE + ", best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_recipe_ravdess_speaker)"),
    Study("sta_emodb_speaker_recipe", "STA-CNN", "emodb", "speaker",
          RECIPE + ", best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_recipe_emodb_speaker)"),
    # STA-CNN's best configuration (the recipe) + speed perturbation of the training audio (sta_speed_<corpus>[_speaker]).
    *(Study(f"sta_{corpus}_{tag}_recipe_speed", "STA-CNN", corpus, split, f"{RECIPE} + {SPEED}, best on val.", "150 ep",
            f"scripts/study_recipe.sh (sta_speed_{corpus}{step})")
      for tag, split, step in (("622", "6:2:2", ""), ("speaker", "speaker", "_speaker")) for corpus in ("emodb", "ravdess")),
    # Two architecture gaps on top of STA-CNN's best configuration (sta_arch_emodb): BatchNorm after each convolution
    # (grid: GFE outputs summed or averaged over positions), and the GFE outputs averaged without BatchNorm; then the
    # one EMO-DB validation chose, on RAVDESS (sta_arch_ravdess).
    Study("sta_emodb_622_recipe_bn", "STA-CNN", "emodb", "6:2:2", f"{RECIPE} + {BATCH_NORM}, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_arch_emodb)"),
    Study("sta_emodb_622_recipe_gfe_mean", "STA-CNN", "emodb", "6:2:2", f"{RECIPE} + {GFE_MEAN}, best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_arch_emodb)"),
    Study("sta_ravdess_622_recipe_bn_mean", "STA-CNN", "ravdess", "6:2:2",
          f"{RECIPE} + {BATCH_NORM} + {GFE_MEAN} (chosen on EMO-DB validation), best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_arch_ravdess)"),
    # Overlapping segments (a gap the paper leaves) on top of the recipe (sta_overlap_<corpus>), beside sta_<corpus>_622_recipe.
    *(Study(f"sta_{corpus}_622_recipe_overlap", "STA-CNN", corpus, "6:2:2", f"{RECIPE} + {OVERLAP}, best on val.", "150 ep",
            f"scripts/study_recipe.sh (sta_overlap_{corpus})") for corpus in ("emodb", "ravdess")),
    # ... and on top of the recipe with speed copies (sta_speed_overlap_<corpus>[_speaker]), beside sta_<corpus>_*_recipe_speed.
    *(Study(f"sta_{corpus}_{tag}_recipe_speed_overlap", "STA-CNN", corpus, split, f"{RECIPE} + {SPEED} + {OVERLAP}, best on val.",
            "150 ep", f"scripts/study_recipe.sh (sta_speed_overlap_{corpus}{step})")
      for tag, split, step in (("622", "6:2:2", ""), ("speaker", "speaker", "_speaker")) for corpus in ("emodb", "ravdess")),
    *(Study(f"sta_{corpus}_speaker_recipe_bn_mean", "STA-CNN", corpus, "speaker", f"{RECIPE} + {BATCH_NORM} + {GFE_MEAN}, best on val.",
            "150 ep", f"scripts/study_recipe.sh (sta_arch_{corpus}_speaker)") for corpus in ("emodb", "ravdess")),
    # STA-CNN's own opt-in switch (scripts/study_recipe.sh sta_masking*): SpecAugment-style masking, alone (on EMO-DB
    # also with per-input mean normalisation of the front-end features) and with the recipe.
    *(_masking_study(corpus, split, name, reading) for split in ("6:2:2", "speaker")
      for name, reading in (("masking", MASKING), ("masking_recipe", MASKING_RECIPE)) for corpus in ("emodb", "ravdess")),
    Study("sta_ravdess_leaky_segment_split", "STA-CNN", "ravdess", "6:2:2",
          "segment-level split, defaults (2.0 s segments), best on val.", "150 ep",
          "scripts/study_recipe.sh (sta_leaky_ravdess)", leaky=True),
    Study("sta_ravdess_622_curve", "STA-CNN", "ravdess", "6:2:2",
          "defaults (2.0 s segments), best on val.; test set also scored every epoch", "150 ep",
          "scripts/study_recipe.sh (sta_curve_ravdess)"),
    Study("sta_emodb_622_curve", "STA-CNN", "emodb", "6:2:2",
          "defaults (2.0 s segments), best on val.; test set also scored every epoch", "150 ep",
          "scripts/study_recipe.sh (sta_curve_emodb)"),
    Study("sta_emodb_622_precision", "STA-CNN", "emodb", "6:2:2", "defaults (2.0 s segments), best on val., fp32 against bf16",
          "150 ep",
          "scripts/study_recipe.sh (sta_bf16_emodb)"),
    # Speaker normalisation (data.speaker_norm): the baseline with it (Δ against the plain baseline), then STRL-SER
    # with it (Δ against the baseline with it, so both sides see the same normalisation).
    Study("baseline_emodb_speaker_norm", "linear baseline", "emodb", "80/20", SPEAKER_NORM, "closed form",
          "scripts/study_recipe.sh (speaker_norm_baseline)"),
    Study("baseline_ravdess_speaker_norm", "linear baseline", "ravdess", "80/20", SPEAKER_NORM, "closed form",
          "scripts/study_recipe.sh (speaker_norm_baseline)"),
    Study("strl_emodb_speaker_norm", "STRL-SER", "emodb", "speaker", f"defaults + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (speaker_norm_emodb)", versus="baseline_emodb_speaker_norm"),
    Study("strl_ravdess_speaker_norm", "STRL-SER", "ravdess", "speaker", f"defaults + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}",
          "30 ep, lr x0.9", "scripts/study_recipe.sh (speaker_norm_ravdess)", versus="baseline_ravdess_speaker_norm"),
    *(Study(f"strl_{corpus}_speaker_norm_150ep", "STRL-SER", corpus, "speaker", f"defaults + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}",
            "150 ep, lr x0.95 (paper)", f"scripts/study_recipe.sh (speaker_norm_{corpus}150)",
            versus=f"baseline_{corpus}_speaker_norm") for corpus in ("emodb", "ravdess")),
    Study("strl_emodb_speaker_norm_recipe", "STRL-SER", "emodb", "speaker",
          f"{RECIPE} + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (speaker_norm_recipe_emodb)", versus="baseline_emodb_speaker_norm"),
    Study("strl_ravdess_speaker_norm_recipe", "STRL-SER", "ravdess", "speaker",
          f"{RECIPE} + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}", "30 ep, lr x0.9",
          "scripts/study_recipe.sh (speaker_norm_recipe_ravdess)", versus="baseline_ravdess_speaker_norm"),
    # Opt-in weight EMA x opt-in dropout on the functionals, on top of the recipe, chosen on 6:2:2 validation (both corpora).
    *(Study(f"strl_{corpus}_622_averaging", "STRL-SER", corpus, "6:2:2", RECIPE + ", bf16", "30 ep, lr x0.9",
            "scripts/study_recipe.sh (averaging_622)") for corpus in ("emodb", "ravdess")),
    # The switch the averaging grid chose on validation (functionals dropout 0.2) with the recipe, reported settings.
    *(Study(f"strl_{corpus}_recipe_hsf_dropout_{tag}", "STRL-SER", corpus, split, RECIPE + " + opt-in functionals dropout 0.2, bf16",
            "30 ep, lr x0.9", "scripts/study_recipe.sh (hsf_dropout_final)")
      for tag, split in (("speaker", "speaker"), ("8020", "80/20")) for corpus in ("emodb", "ravdess")),
    # The recipe with 3 training seeds per split (speaker folds; 80/20 splits): each seed's reading, and their ensemble.
    *(Study(f"strl_{corpus}_recipe_{tag}_seeds3", "STRL-SER", corpus, split, RECIPE + ", bf16, 3 training seeds per split",
            "30 ep, lr x0.9", f"scripts/study_recipe.sh (ensemble_{corpus}_{tag})")
      for tag, split in (("speaker", "speaker"), ("8020", "80/20")) for corpus in ("emodb", "ravdess")),
    # Speaker normalisation on the speaker-dependent 80/20 splits (paired with the baseline with it, its 80/20 trials).
    *(Study(f"strl_{corpus}_speaker_norm{tag}_8020", "STRL-SER", corpus, "80/20", f"{reading} + {SPEAKER_NORM}, bf16; {VERSUS_NOTE}",
            "30 ep, lr x0.9", "scripts/study_recipe.sh (speaker_norm_8020)", versus=f"baseline_{corpus}_speaker_norm")
      for tag, reading in (("", "defaults"), ("_recipe", RECIPE)) for corpus in ("emodb", "ravdess")),
    # Opt-in speed perturbation of the training audio on top of the recipe + functionals dropout 0.2: chosen (or not) on
    # 6:2:2 validation over both corpora, then the four reported settings; and the baseline with the same augmentation.
    *(Study(f"strl_{corpus}_622_speed", "STRL-SER", corpus, "6:2:2", f"{RECIPE} + {HSF_DROPOUT} + {SPEED}, bf16",
            "30 ep, lr x0.9", "scripts/study_recipe.sh (speed_622)") for corpus in ("emodb", "ravdess")),
    *(Study(f"strl_{corpus}_622_speed_norecipe", "STRL-SER", corpus, "6:2:2",
            f"{HSF_DROPOUT} + {SPEED}, bf16; ablation: speed_622 without the recipe",
            "30 ep, lr x0.9", "scripts/study_recipe.sh (speed_norecipe_622)") for corpus in ("emodb", "ravdess")),
    *(Study(f"strl_{corpus}_622_steps90", "STRL-SER", corpus, "6:2:2",
            f"{RECIPE} + {HSF_DROPOUT}, bf16; control: speed_622's optimiser steps without the copies",
            "90 ep, lr x0.9655", "scripts/study_recipe.sh (speed_steps_622)") for corpus in ("emodb", "ravdess")),
    *(Study(f"strl_{corpus}_recipe_speed_{tag}", "STRL-SER", corpus, split, f"{RECIPE} + {HSF_DROPOUT} + {SPEED}, bf16",
            "30 ep, lr x0.9", "scripts/study_recipe.sh (speed_final)")
      for tag, split in (("speaker", "speaker"), ("8020", "80/20")) for corpus in ("emodb", "ravdess")),
    *(Study(f"strl_{corpus}_recipe_speed_{tag}_150ep", "STRL-SER", corpus, split, f"{RECIPE} + {HSF_DROPOUT} + {SPEED}, bf16",
            "150 ep, lr x0.95 (paper)",
            SEEDS5_STEP if (corpus, tag) == ("emodb", "8020") else f"scripts/study_recipe.sh (speed_{corpus}150)")
      for tag, split in (("speaker", "speaker"), ("8020", "80/20")) for corpus in ("emodb", "ravdess")),
    *(Study(f"strl_{corpus}_recipe_speed_speaker_norm", "STRL-SER", corpus, "speaker",
            f"{RECIPE} + {HSF_DROPOUT} + {SPEED} + {SPEAKER_NORM}, bf16; Δ against the baseline with the same copies and "
            "speaker normalisation", "30 ep, lr x0.9",
            "scripts/study_recipe.sh (speed_speaker_norm)", versus=f"baseline_{corpus}_speed_speaker_norm")
      for corpus in ("emodb", "ravdess")),
    *(Study(f"baseline_{corpus}_speed_speaker_norm", "linear baseline", corpus, "speaker", f"{SPEED} + {SPEAKER_NORM}",
            "closed form", "scripts/study_recipe.sh (speed_speaker_norm_baseline)") for corpus in ("emodb", "ravdess")),
    *(Study(f"baseline_{corpus}_speed", "linear baseline", corpus, "80/20", SPEED, "closed form",
            "scripts/study_recipe.sh (speed_baseline)") for corpus in ("emodb", "ravdess")),
    Study("strl_ravdess_hsf_utterance", "STRL-SER", "ravdess", "80/20", "branch tokens, HSFs per utterance", "30 ep, lr x0.9",
          "scripts/study_strl_ser_ravdess.sh"),
    Study("strl_ravdess_leaky_segment_split", "STRL-SER", "ravdess", "80/20",
          "segment-level split, branch tokens, HSFs per utterance", "30 ep, lr x0.9", "scripts/study_strl_ser_ravdess.sh", leaky=True),
]

for _s in STUDY:  # a typo in versus would pair nothing and show "—" silently
    if _s.versus and _s.versus not in {t.folder for t in STUDY}:
        raise ValueError(f"STUDY row {_s.folder}: versus={_s.versus!r} is not a STUDY folder")

# Readings measured before the runner existed (single seed, docs/results.md): kept for context.
EARLIER = [
    ("STRL-SER", "ravdess", "80/20", "fusion tokens = every dimension (`dims`), HSFs per segment", "150 ep", "62.15", "61.70", 1),
    ("STRL-SER", "ravdess", "80/20", "fusion tokens = branch vectors (`branches`), HSFs per segment", "150 ep", "73.61", "72.28", 1),
    ("STA-CNN", "emodb", "6:2:2", "defaults (2.0 s segments, 60 epochs, best on validation)", "60 ep", "80.37", "78.38", 1),
    ("STA-CNN", "ravdess", "6:2:2", "defaults (2.0 s segments, 60 epochs, best on validation)", "60 ep", "70.49", "69.69", 1),
]

# docs/results.md's summary table: one row per corpus and split, each model's *current defaults* (not the best
# reading: nothing is picked by score). Candidates are tried in order; the first folder with results is shown, so a
# short-schedule row stands in (labelled) until the paper-schedule one exists. (folder, grid point or None, note)
Cell = tuple[str, "str | None", str]
SIDE_BY_SIDE: list[tuple[str, str, str, str, list[Cell], list[Cell], str]] = [
    ("RAVDESS 80/20 (test = validation)", "speaker-dependent", "ravdess", "80/20",
     [("strl_ravdess_8020_150ep_bf16", None, "150 ep, bf16")], [], "88.88 (STRL-SER)"),
    ("RAVDESS 6:2:2", "speaker-dependent", "ravdess", "6:2:2",
     [], [("sta_ravdess_input", "segment_length2.0", "defaults, 2.0 s"), ("sta_ravdess_622_curve", None, "defaults, 2.0 s")],
     "76.39 (STA-CNN)"),
    ("EMO-DB 80/20 (test = validation)", "speaker-dependent", "emodb", "80/20",
     [("strl_emodb_8020_150ep_bf16", None, "150 ep, bf16")], [], "—"),
    ("EMO-DB 6:2:2", "speaker-dependent", "emodb", "6:2:2",
     [("strl_emodb_622_bf16", None, "short schedule, bf16")], [("sta_emodb_150ep_2s", None, "defaults, 2.0 s")],
     "80.23 (STA-CNN)"),
    ("RAVDESS 6 folds of 4 actors", "speaker-independent", "ravdess", "speaker",
     [("strl_ravdess_speaker_150ep", None, "150 ep, bf16"), ("strl_ravdess_speaker", None, "short schedule, bf16")],
     [("sta_ravdess_speaker", None, "defaults, 2.0 s")], "—"),
    ("EMO-DB leave one speaker out", "speaker-independent", "emodb", "speaker",
     [("strl_emodb_speaker_150ep", None, "150 ep, bf16"), ("strl_emodb_speaker", "hsf_scopeutterance", "short schedule")],
     [("sta_emodb_speaker_2s", None, "defaults, 2.0 s"), ("sta_emodb_speaker", None, "1.0 s segments, the earlier default")],
     "—"),
]
SIDE_BY_SIDE_HEADING = "## The three models side by side (the reproduction study's summary)"

# The targets (issue 8: paired Δ UA over the linear baseline, mean over seeds/folds, per protocol) and every
# configuration fixed before its runs: each model's defaults, the opt-in recipe (chosen on RAVDESS 6:2:2 validation),
# STA-CNN's feature masking, alone, with per-input mean normalisation (EMO-DB only) and with the recipe
# and speaker normalisation (paired with the baseline with the same switch). All are shown; none is picked by score.
TARGET_UA = {"paper": 5.0, "speaker": 3.0}
TARGETS_HEADING = "## Against the targets"
Target = tuple[str, str, "str | None"]  # (configuration, folder, grid point or None)
TARGETS: list[tuple[str, str, str, list[Target]]] = [
    ("STRL-SER", "ravdess", "80/20", [("defaults, 150 ep", "strl_ravdess_8020_150ep_bf16", None),
                                      ("recipe, 30 ep", "strl_ravdess_recipe_8020", None),
                                      ("recipe, 150 ep", "strl_ravdess_recipe_8020_150ep", None),
                                      ("speaker normalisation, 30 ep", "strl_ravdess_speaker_norm_8020", None),
                                      ("recipe + speaker normalisation, 30 ep", "strl_ravdess_speaker_norm_recipe_8020", None),
                                      ("recipe + functionals dropout 0.2, 30 ep", "strl_ravdess_recipe_hsf_dropout_8020", None),
                                      ("recipe + functionals dropout 0.2 + speed perturbation, 30 ep", "strl_ravdess_recipe_speed_8020", None),
                                      ("recipe + functionals dropout 0.2 + speed perturbation, 150 ep", "strl_ravdess_recipe_speed_8020_150ep", None),
                                      ("recipe, 3 seeds per split (each scored), 30 ep", "strl_ravdess_recipe_8020_seeds3", "default"),
                                      ("recipe, ensemble of 3 seeds, 30 ep", "strl_ravdess_recipe_8020_seeds3", "default" + ENSEMBLE)]),
    ("STRL-SER", "emodb", "80/20", [("defaults, 150 ep", "strl_emodb_8020_150ep_bf16", None),
                                    ("recipe, 30 ep", "strl_emodb_recipe_8020", None),
                                    ("recipe, 150 ep", "strl_emodb_recipe_8020_150ep", None),
                                    ("speaker normalisation, 30 ep", "strl_emodb_speaker_norm_8020", None),
                                    ("recipe + speaker normalisation, 30 ep", "strl_emodb_speaker_norm_recipe_8020", None),
                                    ("recipe + functionals dropout 0.2, 30 ep", "strl_emodb_recipe_hsf_dropout_8020", None),
                                    ("recipe + functionals dropout 0.2 + speed perturbation, 30 ep", "strl_emodb_recipe_speed_8020", None),
                                    ("recipe + functionals dropout 0.2 + speed perturbation, 150 ep", "strl_emodb_recipe_speed_8020_150ep", None),
                                    ("recipe, 3 seeds per split (each scored), 30 ep", "strl_emodb_recipe_8020_seeds3", "default"),
                                    ("recipe, ensemble of 3 seeds, 30 ep", "strl_emodb_recipe_8020_seeds3", "default" + ENSEMBLE)]),
    ("STRL-SER", "ravdess", "speaker", [("defaults, 30 ep", "strl_ravdess_speaker", None),
                                        ("defaults, 150 ep", "strl_ravdess_speaker_150ep", None),
                                        ("recipe, 30 ep", "strl_ravdess_recipe_speaker", None),
                                        ("recipe, 150 ep", "strl_ravdess_recipe_speaker_150ep", None),
                                        ("speaker normalisation, 30 ep", "strl_ravdess_speaker_norm", None),
                                        ("speaker normalisation, 150 ep", "strl_ravdess_speaker_norm_150ep", None),
                                        ("recipe + speaker normalisation, 30 ep", "strl_ravdess_speaker_norm_recipe", None),
                                        ("recipe + functionals dropout 0.2, 30 ep", "strl_ravdess_recipe_hsf_dropout_speaker", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation, 30 ep", "strl_ravdess_recipe_speed_speaker", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation, 150 ep", "strl_ravdess_recipe_speed_speaker_150ep", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation + speaker normalisation, 30 ep",
                                         "strl_ravdess_recipe_speed_speaker_norm", None),
                                        ("recipe, 3 seeds per split (each scored), 30 ep", "strl_ravdess_recipe_speaker_seeds3", "default"),
                                        ("recipe, ensemble of 3 seeds, 30 ep", "strl_ravdess_recipe_speaker_seeds3", "default" + ENSEMBLE)]),
    ("STRL-SER", "emodb", "speaker", [("defaults, 150 ep", "strl_emodb_speaker_150ep", None),
                                      ("recipe, 30 ep", "strl_emodb_recipe_speaker", None),
                                      ("recipe, 150 ep", "strl_emodb_recipe_speaker_150ep", None),
                                      ("speaker normalisation, 30 ep", "strl_emodb_speaker_norm", None),
                                        ("speaker normalisation, 150 ep", "strl_emodb_speaker_norm_150ep", None),
                                      ("recipe + speaker normalisation, 30 ep", "strl_emodb_speaker_norm_recipe", None),
                                        ("recipe + functionals dropout 0.2, 30 ep", "strl_emodb_recipe_hsf_dropout_speaker", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation, 30 ep", "strl_emodb_recipe_speed_speaker", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation, 150 ep", "strl_emodb_recipe_speed_speaker_150ep", None),
                                        ("recipe + functionals dropout 0.2 + speed perturbation + speaker normalisation, 30 ep",
                                         "strl_emodb_recipe_speed_speaker_norm", None),
                                        ("recipe, 3 seeds per split (each scored), 30 ep", "strl_emodb_recipe_speaker_seeds3", "default"),
                                        ("recipe, ensemble of 3 seeds, 30 ep", "strl_emodb_recipe_speaker_seeds3", "default" + ENSEMBLE)]),
    ("STA-CNN", "ravdess", "6:2:2", [("defaults (2.0 s)", "sta_ravdess_input", "segment_length2.0"),
                                     ("defaults (2.0 s), rerun", "sta_ravdess_622_curve", None),
                                     ("recipe", "sta_ravdess_622_recipe", None),
                                     ("recipe + speed perturbation", "sta_ravdess_622_recipe_speed", None),
                                     ("recipe + BatchNorm + GFE mean", "sta_ravdess_622_recipe_bn_mean", None),
                                     ("recipe + overlapping segments", "sta_ravdess_622_recipe_overlap", None),
                                     ("recipe + speed perturbation + overlapping segments", "sta_ravdess_622_recipe_speed_overlap", None),
                                     ("masking", "sta_ravdess_622_masking", None),
                                     ("masking + recipe", "sta_ravdess_622_masking_recipe", None)]),
    ("STA-CNN", "emodb", "6:2:2", [("defaults (2.0 s)", "sta_emodb_150ep_2s", None),
                                   ("defaults (2.0 s), rerun", "sta_emodb_622_curve", None),
                                   ("recipe", "sta_emodb_622_recipe", None),
                                   ("recipe + speed perturbation", "sta_emodb_622_recipe_speed", None),
                                   ("recipe + BatchNorm", "sta_emodb_622_recipe_bn", "gfe_poolingsum"),
                                   ("recipe + BatchNorm + GFE mean", "sta_emodb_622_recipe_bn", "gfe_poolingmean"),
                                   ("recipe + GFE mean", "sta_emodb_622_recipe_gfe_mean", None),
                                   ("recipe + overlapping segments", "sta_emodb_622_recipe_overlap", None),
                                   ("recipe + speed perturbation + overlapping segments", "sta_emodb_622_recipe_speed_overlap", None),
                                   ("masking", "sta_emodb_622_masking", "instance_normnone"),
                                   ("masking + per-input mean normalisation", "sta_emodb_622_masking", "instance_normmean"),
                                   ("masking + recipe", "sta_emodb_622_masking_recipe", None)]),
    ("STA-CNN", "ravdess", "speaker", [("defaults (2.0 s)", "sta_ravdess_speaker", None),
                                       ("recipe", "sta_ravdess_speaker_recipe", None),
                                       ("recipe + speed perturbation", "sta_ravdess_speaker_recipe_speed", None),
                                       ("recipe + speed perturbation + overlapping segments", "sta_ravdess_speaker_recipe_speed_overlap", None),
                                       ("recipe + BatchNorm + GFE mean", "sta_ravdess_speaker_recipe_bn_mean", None),
                                       ("masking", "sta_ravdess_speaker_masking", None),
                                       ("masking + recipe", "sta_ravdess_speaker_masking_recipe", None)]),
    ("STA-CNN", "emodb", "speaker", [("defaults (2.0 s)", "sta_emodb_speaker_2s", None),
                                     ("recipe", "sta_emodb_speaker_recipe", None),
                                     ("recipe + speed perturbation", "sta_emodb_speaker_recipe_speed", None),
                                     ("recipe + speed perturbation + overlapping segments", "sta_emodb_speaker_recipe_speed_overlap", None),
                                     ("recipe + BatchNorm + GFE mean", "sta_emodb_speaker_recipe_bn_mean", None),
                                     ("masking", "sta_emodb_speaker_masking", None),
                                     ("masking + recipe", "sta_emodb_speaker_masking_recipe", None)]),
]

# Each model's configuration as its paper gives it (the defaults) and its best configuration (the file
# configs/recipes/<model>.yaml, chosen on validation by the rules fixed before the runs), by their TARGETS labels:
# the one-table summary that opens reproduction.md. Changing a recipe file means changing its label here.
BEST_HEADING = "## In one table: each model as published and at its best, against the targets"
# How the cells came to be, where that weakens them (the figures are in the NOTES paragraphs).
BEST_CAVEAT = (
    "Read with care: STRL-SER's EMO-DB speaker-fold cell ran at the paper's 150 epochs (the schedule of every STRL-SER "
    "best cell) only after its 30-epoch run had fallen 0.06 short of +3 on the same folds, so count it as one more draw, "
    "not as a configuration that wins. And once the two-corpus validation rule chose BatchNorm + GFE mean for STA-CNN, "
    "the STA-CNN notes named the recipe the stronger of the two on the held-out tests; that decided nothing, as the "
    "speed copies then beat both on validation (both in 'What the study says so far')."
)
BEST: dict[str, tuple[str, str, str]] = {
    "STRL-SER": ("defaults, 150 ep", "recipe + functionals dropout 0.2 + speed perturbation, 150 ep",
                 "configs/recipes/strl_ser.yaml"),
    "STA-CNN": ("defaults (2.0 s)", "recipe + speed perturbation + overlapping segments", "configs/recipes/sta_cnn.yaml"),
}

NOTES = {
    "STRL-SER": (
        "**A leaky split reaches the paper's number; no leak-free reading does.** With the 80/20 split drawn over "
        "*segments* (the paper's 'random split of the total samples') and the functionals computed per *utterance* "
        "(its 'utterance-level input'), STRL-SER scores 99.29 ± 0.54 % WA on RAVDESS over 3 seeds, above the paper's "
        "88.88, and 96.6 % on EMO-DB: every segment of an utterance carries the same 1582 functionals, so a validation "
        "segment whose sibling was in training is recognised by its recording. With per-segment functionals a "
        "segment-level split does not inflate the score (54 % at 40 epochs, earlier diagnostic in results.md), so the "
        "leak needs utterance-level functionals. The best leak-free reading of the paper's text, the defaults with its "
        "own 150-epoch schedule, scores 77.22 ± 0.94 % WA on RAVDESS (5 seeds; 76.36 ± 0.97 UA, +4.02 ± 0.94 over the "
        "baseline on the same splits, above it on all 5); picking the best epoch on the reported set adds only +1.25 WA "
        "(78.47 ± 0.98; those epochs lie at 21-56 of the 150, so the model has long stopped improving on unseen "
        "utterances when the paper's schedule ends). With this study's switches beyond the paper (recipe, functionals dropout "
        "and speed perturbation, below) the best leak-free readings reach 82.41 ± 2.00 WA (30 epochs) and 82.18 ± 3.15 "
        "(150 epochs; its LEAKY best epoch on the reported set 83.68 ± 2.11), still 6.5 below. We believe the paper's 88.88 comes from a split of segments (the paper calls its segment "
        "set the training set and never says that segments of one utterance stay together), possibly with the best "
        "epoch picked on the reported set: it is the only reading we found that reaches it, and the span between "
        "leak-free (77.2; 82.4 with the switches) and fully leaky (99.3) readily holds 88.9 for a split that leaks less.\n\n"
        "*Defaults, chosen on validation (EMO-DB 6:2:2, held-out test).* Branch tokens (val UA 83.4; fused 82.1; every "
        "dimension 63.1), functionals per utterance (83.4 vs 77.5 per segment), non-overlapping segments (overlap: "
        "82.8 vs 82.9), and the functionals branch kept (LLDs only: 56.4; the functionals carry most of the signal). "
        "The paper's 150 epochs stay the default: the study's short schedule (30 epochs, lr x0.9) scores 2.1 UA points "
        "*below* it on EMO-DB 80/20 (89.65 vs 91.79 on the same 3 splits), so it is not a faithful stand-in; readings "
        "compared under it are compared fairly with each other, but their margins over the baseline are understated.\n\n"
        "*Opt-in switches.* On EMO-DB 6:2:2 (3 seeds, bf16) none beat the defaults on validation UA (defaults 82.9; "
        "mixup 0.2: 81.5; label smoothing 0.1: 82.3; weight decay 1e-4: 82.6; dropout 0.5: 81.8), though label smoothing "
        "and mixup scored higher on the test sets (+2.8 and +1.6 UA): EMO-DB's validation sets (107 utterances) cannot "
        "separate them. RAVDESS 6:2:2's larger validation sets (288 utterances; `recipe_ravdess`: label smoothing x "
        "mixup, 3 seeds) rank label smoothing 0.1 + mixup 0.2 first (val UA 74.05 ± 4.77; defaults 73.08, label "
        "smoothing alone 73.29, mixup alone 72.31), a margin well inside the seeds' spread; on the held-out test sets "
        "the pair scores level with the defaults (74.11 vs 74.14 UA; the four settings 74.1-75.3, each +5.4 to +6.6 "
        "over the baseline on the same splits). By the rule fixed before the runs (best validation UA) that pair is the "
        "opt-in *recipe*. Under the reported protocols (short schedule, the same splits as the defaults' rows): RAVDESS "
        "80/20 77.63 ± 0.84 UA / 78.70 ± 0.80 WA, +5.85 ± 1.81 over the baseline and +1.40 over the defaults' 76.23; "
        "RAVDESS speaker folds 55.99 ± 4.99 UA, +3.19 ± 3.56 over the baseline and +0.98 over the defaults' 55.01. "
        "*How far to trust it:* those reported sets are random and speaker subsets of the same 1440 utterances whose "
        "6:2:2 validation parts chose the recipe, so they are not independent of the choice; the check that is "
        "independent, RAVDESS 6:2:2's held-out test, shows no gain. EMO-DB, the corpus that did not choose it "
        "(`STEPS=final_emodb`, the same splits and schedule as the defaults' rows): 80/20 90.02 ± 3.07 UA, +0.37 over the "
        "defaults' 89.65 and +2.10 ± 3.05 over the baseline; leave-one-speaker-out 71.27 ± 12.12 UA, +0.73 over the "
        "defaults' 70.53 and +0.32 ± 5.94 over the baseline (validation UA 71.16 against the defaults' 71.56 there). "
        "So the recipe moved UA by +0.4 to +1.4 in all four reported settings, each gain well inside the seeds' or "
        "folds' spread, and by nothing on the one held-out test of the corpus that chose it. We read it as a small, "
        "consistent gain that does not close any gap to a target on EMO-DB; it stays opt-in and the defaults stay the "
        "paper's. *At the paper's 150 epochs the gain is gone* (`STEPS=\"final_ravdess150 final_emodb150\"`, the first 3 "
        "splits of the defaults' 150-epoch rows): RAVDESS 80/20 75.78 ± 2.13 UA, +4.00 ± 0.49 over the baseline against "
        "the defaults' 76.00 (+4.22) on those 3 splits (paired −0.22 ± 1.05; the defaults over 5 seeds 76.36, +4.02); EMO-DB 80/20, with the baseline's 5 seeds (`STEPS=emodb8020_seeds5`, both rows), "
        "88.21 ± 1.92, +0.68 ± 2.15 against the defaults' 90.09 ± 3.27 (+2.56 ± 2.32), 1.88 ± 2.29 below them paired "
        "(4 of 5 seeds). So the recipe's one met target (RAVDESS 80/20, +5.85 on the short schedule) rests on the short "
        "schedule: with the paper's schedule neither the recipe nor the defaults reach +5 on either corpus, and label "
        "smoothing plus mixup over 150 epochs cost EMO-DB about 2 points. We read it as a regulariser that helps a "
        "short schedule and nothing more.\n\n"
        "*Against the baseline.* Paper protocol: with the paper's schedule, +4.02 ± 0.94 UA on RAVDESS 80/20 (5 "
        "seeds, above the baseline on all 5; the first 3 gave +4.22 ± 1.18) and +2.56 ± 2.32 on EMO-DB 80/20 (5 seeds, above the baseline on all 5; the first 3 gave +3.88 ± 2.04), "
        "and +5.42 ± 3.94 on RAVDESS 6:2:2 (held-out "
        "test, short schedule); with the opt-in recipe +5.85 ± 1.81 on RAVDESS 80/20 and +3.19 ± 3.56 on RAVDESS "
        "speaker folds, the targets' margins, met on RAVDESS only, on the short schedule only (at 150 epochs the recipe gives +4.00) and with the caveat above (on EMO-DB the recipe gives +2.10 ± 3.05 on "
        "80/20 and +0.32 ± 5.94 across speakers). On 80/20 the defaults' margin is real but short of the +5 target on both corpora (the short schedule gave +4.45 and +1.74: on RAVDESS it matches the paper's schedule, on EMO-DB it understates the margin by 2 points on those 3 splits, whose paper-schedule margin is +3.88 against +2.56 over 5 seeds). Speaker protocol: EMO-DB 10 folds "
        "with the paper's 150 epochs +0.24 ± 5.83 (short schedule −0.41 ± 5.88: the longer schedule moves every fold by "
        "at most 1.8 points) and RAVDESS 6 folds +2.21 ± 2.79 on the short schedule (55.01 ± 4.89 UA against 52.80) and "
        "+1.37 ± 3.17 with the paper's 150 epochs (54.17 ± 5.72; `STEPS=ravdess_speaker150`, on the H100): across new "
        "speakers STRL-SER gains on RAVDESS but not on EMO-DB, short of the +3 target on both. The recipe at the paper's "
        "schedule across speakers (`STEPS=\"final_emodb_speaker150 final_ravdess_speaker150\"`, on the H100, the same "
        "folds) gives RAVDESS 55.79 ± 3.54 UA, +2.99 ± 2.50 (0.01 short of +3; above the baseline in 5 of 6 folds, level in the sixth), "
        "and EMO-DB 72.82 ± 12.62, +1.87 ± 5.36 (+1.6 over the defaults at that schedule): the recipe's RAVDESS speaker "
        "margin is about the same at both schedules (+3.19 short, meeting +3; +2.99 long, 0.01 short) and stays small "
        "on EMO-DB. *bf16* (`--trainer.precision bf16-mixed`) halves the time on "
        "the AVX-512 CPUs that ran these steps and gave the same test predictions as fp32 on two of three splits and one utterance different on the "
        "third (EMO-DB 6:2:2).\n\n"
        "*Weight EMA and functionals dropout* (opt-in; `STEPS=averaging_622`, 6:2:2, 3 seeds, short schedule, bf16, on "
        "top of the recipe, a 2 x 2 grid chosen by the mean validation UA over both corpora, the rule fixed before the "
        "runs). An exponential moving average of the weights (half-life one epoch, `ema_half_life=1`) changes almost "
        "nothing: by the end of a schedule whose learning rate has decayed to 4 % the weights barely move, so the average "
        "is the last weights (EMO-DB test UA identical in 2 of 3 seeds, RAVDESS within 0.7 in each; validation UA 81.55 "
        "vs 81.55 and 73.39 vs 73.61). Dropout 0.2 on the standardised functionals (`hsf_dropout=0.2`, the 1582-input "
        "layer's regulariser) has the best mean validation UA, 78.30 against the recipe's 77.58 (EMO-DB 83.22 ± 2.99 vs "
        "81.55 ± 4.22, RAVDESS 73.38 ± 4.55 vs 73.61 ± 5.04), a margin inside the seeds' spread; it was chosen (held-out "
        "tests: EMO-DB 86.97 ± 2.42 vs 87.51 ± 2.77 UA, RAVDESS 76.08 ± 1.67 vs 74.11 ± 0.88) and run under the reported "
        "protocols (`STEPS=hsf_dropout_final`, the recipe rows' splits and schedule): RAVDESS 80/20 78.28 ± 0.22 UA "
        "(+6.51 ± 2.35 over the baseline; the recipe alone +5.85), RAVDESS speaker folds 57.62 ± 4.31 (+4.82 ± 3.01; "
        "the recipe alone +3.19; above the baseline in 5 of 6 folds), EMO-DB 80/20 89.29 ± 2.63 (+1.38 ± 2.37; the recipe "
        "alone +2.10), EMO-DB leave-one-speaker-out 71.84 ± 12.97 (+0.89 ± 6.07; +0.32). It adds about +0.7 to +1.6 on "
        "RAVDESS and nothing measurable on EMO-DB, the corpus whose validation sets favoured it most: like the recipe, a "
        "regulariser of the functionals branch that widens the RAVDESS margins and leaves EMO-DB short of both targets. "
        "RAVDESS 6:2:2's validation sets took part in the choice, so its RAVDESS rows are not independent of it.\n\n"
        "*Seed ensembles* (opt-in, `ser-experiment --init-seeds` / `--fold-seeds`; `STEPS=\"ensemble_emodb_8020 "
        "ensemble_ravdess_8020 ensemble_emodb_speaker ensemble_ravdess_speaker\"`: the recipe, short schedule, bf16, 3 "
        "training seeds on each of the recipe rows' splits). Scored alone, the seeds reproduce the recipe's rows within "
        "their spread (RAVDESS 80/20 77.52 ± 1.31 UA against 77.63; speaker folds 56.18 ± 4.35 against 55.99; EMO-DB "
        "80/20 88.91 ± 3.30 against 90.02; leave-one-speaker-out 71.37 ± 11.57 against 71.27), and the three seeds' "
        "ensemble (class probabilities averaged per utterance; nothing selected) adds +0.1 to +0.5 UA to them: RAVDESS "
        "80/20 78.06 ± 0.23 (+6.28 ± 2.17 over the baseline), RAVDESS speaker folds 56.71 ± 5.49 (+3.91 ± 4.16), EMO-DB "
        "80/20 89.12 ± 3.45 (+1.21 ± 2.50), EMO-DB leave-one-speaker-out 71.45 ± 12.55 (+0.50 ± 5.12). So the recipe's "
        "RAVDESS margins hold over 9 and 18 trainings instead of 3 and 6 (each seed alone: +5.74 ± 2.09 and "
        "+3.39 ± 2.98), and training noise is not what keeps STRL-SER from the EMO-DB targets: averaging three "
        "trainings removes most of it and moves EMO-DB by a fraction of a point. The ensemble costs three trainings; it "
        "stays opt-in.\n\n"
        "*Speed perturbation of the training audio* (opt-in, `--data.speed_perturb [0.9,1.1]`: every training utterance "
        "also featurised at 0.9x and 1.1x speed, tempo and pitch together, the 3-way perturbation of Kaldi and "
        "SpeechBrain recipes; validation and test audio untouched). Chosen on 6:2:2 validation by the rule of the "
        "averaging grid (mean validation UA over both corpora, `STEPS=speed_622`, on top of the recipe and functionals "
        "dropout 0.2, 3 seeds): 80.37 against 78.30 without it (EMO-DB 83.98 ± 1.19 vs 83.22 ± 2.99, RAVDESS "
        "76.75 ± 2.83 vs 73.38 ± 4.55); held-out tests EMO-DB 86.31 ± 2.58 vs 86.97 ± 2.42 UA, RAVDESS 77.94 ± 0.70 vs "
        "76.08 ± 1.67. The copies triple the optimiser steps of an epoch, so a control trains the same configuration "
        "without them for as many steps at the same per-step decay (`STEPS=speed_steps_622`, 90 epochs, lr x0.9655): "
        "validation UA EMO-DB 82.60 ± 2.56, RAVDESS 73.70 ± 3.05 (mean 78.15; held-out test UA 86.83 ± 4.09 and 75.54 ± 1.18): no better than the 30-epoch runs without copies (78.30) and 2.2 below the runs with them, so the gain comes from the copies, not from the longer training they bring. The recipe was chosen before the copies existed, and two augmentations can do the same work, so an ablation drops it (`STEPS=speed_norecipe_622`: functionals dropout and copies without label smoothing and mixup, the same splits): validation UA EMO-DB 81.85 ± 0.77, RAVDESS 75.80 ± 4.10, mean 78.82 against 80.37 with the recipe, which therefore stays, by the same rule; the held-out tests agree on RAVDESS (75.45 ± 1.35 UA, −2.49 ± 1.02 paired, below on all three splits) and are level on EMO-DB (86.46 ± 2.64, +0.15 ± 1.81); the validation margin is inside the seeds' spread (RAVDESS 75.80 ± 4.10 against 76.75 ± 2.83). So at the short schedule the recipe still adds to the copies on RAVDESS, and EMO-DB's test cannot tell them apart. (At 150 epochs the recipe alone cost EMO-DB 80/20 about 1.9 points against the defaults (5 seeds); whether it still adds to the copies at that schedule was not measured.) Under the reported protocols "
        "(`STEPS=speed_final`, the dropout rows' splits and schedule) it is the first lever that moves STRL-SER across "
        "speakers on both corpora: RAVDESS speaker folds 58.66 ± 4.27 UA, +5.86 ± 0.82 over the baseline and above it "
        "in all 6 folds (without it +4.82 ± 3.01, 5 of 6), RAVDESS 80/20 82.00 ± 2.33 (+10.22 ± 4.46; without it "
        "+6.51), EMO-DB leave-one-speaker-out 73.88 ± 13.56 (+2.94 ± 5.59, 6 of 10 folds above; without it +0.89, 3 of "
        "10), EMO-DB 80/20 88.87 ± 2.94 (+0.96 ± 2.37; without it +1.38). The linear baseline given the same copies "
        "(`STEPS=speed_baseline`, 5 seeds and every fold) does not gain: −0.40 ± 3.34 UA (EMO-DB 80/20), +0.28 ± 4.77 "
        "(EMO-DB speakers), −1.09 ± 2.00 (RAVDESS 80/20), +0.98 ± 3.11 (RAVDESS speakers), so the margins are not an "
        "artefact of comparing an augmented model with an unaugmented baseline: against the baseline with the copies "
        "STRL-SER still leads by +4.88 (RAVDESS speakers) and +2.66 (EMO-DB speakers). EMO-DB's speaker-dependent "
        "80/20 margin stays about +1 with this lever as with every other: on 107 test utterances of speakers it "
        "trained on, the linear SVM on the utterance's functionals is already at 88 UA. RAVDESS 6:2:2's validation "
        "took part in the choice; EMO-DB's speaker folds and both corpora's baselines did not. *At the paper's 150 "
        "epochs* (`STEPS=speed_emodb150`, EMO-DB, the same splits and folds; on 80/20 then the baseline's 5 seeds, "
        "`STEPS=emodb8020_seeds5`) the longer schedule does not widen the margin: EMO-DB 80/20 87.89 ± 2.55 UA, level "
        "with the baseline (+0.36 ± 1.75, above it on 4 of 5 seeds by at most 2.6; on the first 3 seeds 87.55 against "
        "30 epochs' 88.87, +0.96), level with the recipe alone at 150 epochs (88.21 ± 1.92; paired −0.32 ± 1.59), "
        "which itself lost 1.55 points to its 30-epoch run on the first 3 seeds (88.47 against 90.02), and 2.21 ± 2.99 below the defaults at "
        "150 epochs (90.09 ± 3.27, +2.56 ± 2.32 over the baseline; below them on 3 of 5 seeds, level on one, 1.8 above on one): on "
        "EMO-DB's speaker-dependent split at the paper's schedule the switches cost about 2 points, where across "
        "EMO-DB's speakers they add 3 (below). No run at 150 epochs has the dropout without the copies, so the two "
        "are not told apart there. Across EMO-DB's speakers at 150 epochs (10 folds, 11-13 minutes "
        "a fold, 2 at a time) it scores 74.23 ± 13.80 UA, +3.29 ± 5.28 over the baseline and above it in 9 of 10 "
        "folds (by 0.05 in one; below by 7.1 in fold 4): the one EMO-DB row that reaches the +3 target. Read it "
        "with its spread: against its own 30-epoch run (73.88, +2.94, 6 of 10) it is +0.35 ± 3.51 UA paired, 5 "
        "folds up and 5 not, and against the recipe alone at 150 epochs (72.82 ± 12.62, run on the H100 from feature "
        "packs) +1.41 ± 6.06; the target is crossed by 0.29 with a paired std of 5.28, so ten folds cannot tell it "
        "apart from the 30-epoch row 0.06 short. The schedule is the paper's, fixed before the run, but the run was "
        "chosen after the 30-epoch row fell 0.06 short on these same folds, the last of eight EMO-DB speaker "
        "configurations tried against the target: count it as one more draw, not as a configuration that wins. On "
        "RAVDESS 80/20 (`STEPS=speed_ravdess150`, 43-46 minutes a trial, 2 at a time) it scores 81.76 ± 3.11 UA, +9.99 ± 5.00 over the "
        "baseline (all 3 seeds above), level with its 30-epoch run (82.00; paired −0.23: seeds 79.50, 80.47 and 85.32 "
        "against 80.82, 80.48 and 84.68) and +5.98 paired over the recipe alone at 150 epochs (75.78): at the paper's "
        "schedule as at the short one, the copies are what moves STRL-SER, and 150 epochs add nothing to them there. "
        "Across RAVDESS's speakers (the same step, run in a later session; 6 folds, 39-44 minutes a fold, 2 at a time) "
        "it scores 60.55 ± 4.56 UA, +7.75 ± 2.20 over the baseline and above it in all 6 folds (by 5.1 to 10.9), the "
        "widest speaker-protocol margin of the study; here the longer schedule does add something: +1.89 ± 2.09 "
        "paired over its 30-epoch run (58.66; 5 of 6 folds up, by up to 4.7) and +4.75 ± 2.16 over the recipe alone "
        "at 150 epochs (55.79, all 6 folds up). The configuration and schedule were fixed before this run and "
        "nothing was selected on its folds (the last epoch is reported, as for every STRL-SER row); RAVDESS 6:2:2's "
        "validation took part in choosing the recipe, the dropout and the copies, so the RAVDESS rows are not "
        "independent of that choice."
    ),
    "STA-CNN": (
        "The paper leaves input length and epochs open; both were chosen on validation (6:2:2, 3 seeds, best "
        "checkpoint on validation, held-out test). *Epochs:* at 60, five of six EMO-DB runs peaked on validation within "
        "their last 8 epochs; 150 epochs raised EMO-DB validation UA 81.8 -> 82.4, and on RAVDESS (2.0 s) the best "
        "validation epochs were 123, 131 and 141. *Input length:* a first round chose 1.0 s segments on EMO-DB's "
        "validation alone (1.0 s 82.4, 2.0 s 80.1, 3.0 s 78.0, one 3 s crop 72.9). Checked on RAVDESS, 1.0 s peaked by "
        "epoch 44-77 and then overfit (val UA 65.8 against 68.4 for 2.0 s and 67.8 for 3.0 s), so the default is now the "
        "length with the best validation UA over **both** corpora: 2.0 s (mean 74.2 vs 74.1 for 1.0 s and 72.9 for 3.0 s; "
        "pooled over the 395 validation utterances 71.6 vs 70.3 and 70.5). The mean is a near tie, which is the honest "
        "reading: input length matters less than the corpus, and a default fitted to one corpus is a coin toss on the next. "
        "With the defaults (2.0 s, 150 epochs): EMO-DB 79.75 ± 3.00 WA, at the paper's 80.23, but 77.94 ± 2.64 UA is "
        "7.8 points *below* the linear baseline on the same splits (the paper's own 80.23 is 6.3 below the baseline's "
        "86.54 WA on such splits: a faithful STA-CNN is not expected to beat it there, let alone by 5 points); RAVDESS 68.75 ± 0.92 WA, 7.6 below the paper's 76.39 "
        "and level with the baseline (−1.19 ± 1.68 UA). Across speakers it fails: EMO-DB leave-one-speaker-out scores "
        "54.50 ± 11.46 UA with the defaults (−16.45 ± 16.24 against the baseline on the same folds; 1.0 s segments: "
        "53.67, −17.27), while its validation UA is 69.5: the single validation speaker of each fold selects the "
        "checkpoint (best epochs as early as 2-22 in four folds), a noisy selector for a model this prone to overfit. On RAVDESS's six speaker folds (four actors each, four "
        "validation actors) the defaults score 42.97 ± 4.86 UA, −9.83 ± 4.82 against the baseline; the same runs' last "
        "epoch scores 45.51 ± 6.58 (higher in five of six folds, by 3.5-4.7 UA; lower by 4.3 in the sixth), so the "
        "checkpoint selection costs about 2.5 UA here but explains little of the gap (−7.29 ± 6.23 at the last epoch). "
        "Switching the default to the last epoch would be a choice read off test sets, so it stays a diagnostic row. "
        "*Opt-in recipe.* STRL-SER's recipe (label smoothing 0.1 + mixup 0.2; `STEPS=\"sta_recipe_ravdess "
        "sta_recipe_emodb\"`, 6:2:2, 3 seeds, 150 epochs, best on validation) raises STA-CNN's validation UA on both "
        "corpora (RAVDESS 71.32 ± 4.79 against the defaults' 68.39; EMO-DB 87.04 ± 1.90 against 80.08), so validation "
        "chooses it, and the held-out tests agree: RAVDESS 70.68 ± 3.89 UA (+3.15 over the defaults, +1.96 ± 5.78 over "
        "the baseline), EMO-DB 80.81 ± 7.87 (+2.87 over the defaults, −4.93 ± 10.73 against the baseline). Until the "
        "speed copies below, it was the largest gain any switch gave STA-CNN, yet it leaves STA-CNN level with the baseline on RAVDESS and below "
        "it on EMO-DB, and EMO-DB's seeds (73.8, 79.4, 89.3 UA) show three runs cannot pin the gain down. "
        "Across EMO-DB's speakers (`STEPS=sta_recipe_emodb_speaker`, 10 folds) it lifts UA from 54.50 to 62.21 ± 12.83 "
        "(validation UA 73.98 against 69.51), STA-CNN's largest gain from any switch until the speed copies, and still 8.74 ± 13.94 below the baseline "
        "on the same folds: regularisation narrows STA-CNN's gap across speakers but does not close it. Across RAVDESS's "
        "speakers (`STEPS=sta_recipe_ravdess_speaker`, 6 folds, on the 2 CPU cores) the same: 47.20 ± 3.59 UA against "
        "the defaults' 42.97 (validation UA 55.14 against 49.93), and −5.60 ± 2.78 against the baseline, below it in "
        "all six folds (by 1.6 to 9.8). Folds 0 and 1 reproduced the two folds of an earlier, lost attempt to the "
        "last digit (47.66 and 50.39). "
        "*Opt-in feature masking* (`STEPS=\"sta_masking sta_masking_recipe\"`, 6:2:2, 3 seeds, 150 epochs, best on "
        "validation, the same splits as the defaults' rows): SpecAugment-style masking of the front-end features in "
        "training (2 bands of fewer than 8 of the 117 features, 2 spans of fewer than 20 frames per 2.0 s segment) raises "
        "validation UA over the defaults on both corpora (EMO-DB 84.96 ± 3.68 against 80.08; RAVDESS 69.74 ± 1.22 "
        "against 68.39) and the held-out tests agree (EMO-DB 79.82 ± 5.51 UA, −5.92 ± 8.15 against the baseline; "
        "RAVDESS 69.87 ± 2.93, +1.16 ± 4.82; over the defaults' published rows on the same splits +1.9 and +2.3, over "
        "their reruns +2.9 and +1.4). "
        "Per-input mean normalisation of the features on top (`instance_norm=mean`, each segment's own mean removed) "
        "cost EMO-DB 10.5 validation points (74.41) and 5.8 test points, so it was not run on RAVDESS: it removes each "
        "segment's average ZCR and chroma profile along with the channel, and a padded segment's silence counts. "
        "Masking with the recipe scores 85.23 ± 1.84 / 71.52 ± 2.81 on validation (tests 77.27 ± 3.45 and "
        "70.59 ± 1.61 UA). By the rule fixed before the runs (the best validation UA averaged over the two corpora, the "
        "rule that chose the 2.0 s input), the recipe alone stayed ahead of masking (79.18; masking with the "
        "recipe 78.38, masking 77.35, the defaults 74.24), so masking was not chosen for the speaker protocol: on "
        "6:2:2 it is a real but smaller regulariser than the recipe, and neither closes the gap to +5. Run across "
        "EMO-DB's speakers anyway once the H100 made it cheap (`STEPS=\"sta_masking_emodb_speaker "
        "sta_masking_recipe_emodb_speaker\"`, 10 folds, about 3 minutes each step for all ten at once), masking scores "
        "63.10 ± 9.67 UA (−7.85 ± 12.13) and masking with the recipe 63.29 ± 12.62 (−7.65 ± 11.99), level with the "
        "recipe's 62.21 and 8.6 points above the defaults' 54.50: every regulariser tried lifts STA-CNN across speakers "
        "by about the same amount, and none brings it near the linear baseline there. "
        "*Speed perturbation* (opt-in `--data.speed_perturb [0.9,1.1]`, the switch that moved STRL-SER across speakers; "
        "`STEPS=sta_speed_emodb`: on top of the recipe, EMO-DB 6:2:2, the recipe row's 3 splits, 150 epochs, best on "
        "validation, 24-33 minutes a trial on the 2 CPU cores, 2-3 trials at once) raises validation UA to 88.88 ± 1.18 against the "
        "recipe's 87.04 ± 1.90; the held-out tests rise on 2 of 3 splits, 83.00 ± 3.37 UA against 80.81 ± 7.87 "
        "(paired +2.20 ± 10.56: +1.5, +13.1 and −8.0 per split), with the seeds' spread halved. It is STA-CNN's best "
        "EMO-DB 6:2:2 reading by validation and by test and the closest any came to the linear baseline (the "
        "recipe alone −4.93), and it is still below it: −2.74 ± 1.66 on the same splits, below on all three. On RAVDESS (`STEPS=sta_speed_ravdess`, the recipe row's 3 splits, 3 trials at once on the 2 CPU cores, "
        "the first 36-40 epochs ran unflushed and slowed 5.6x, results.md 'Subnormal floats'; flushed, the remaining ~110 epochs took about 48 minutes, about 65 for a whole trial; "
        "the trials resumed from their checkpoints) it raises validation UA to 79.63 ± 2.61 against the recipe's 71.32, so the "
        "two-corpus rule fixed before the runs (mean validation UA over both corpora) chooses it: 84.26 against BatchNorm + "
        "averaged GFE's 81.00 and the recipe's 79.18. The held-out tests agree: 77.85 ± 1.69 UA / 78.94 ± 1.78 WA, "
        "+7.17 ± 2.53 over the recipe on the same splits (above on all three: +5.9, +10.1, +5.6) and +9.13 ± 3.47 over the "
        "linear baseline, STA-CNN's first reading to meet a target (the same runs' last epoch 75.96 ± 3.25), and 2.5 WA above "
        "the paper's 76.39. It was therefore STA-CNN's best configuration until overlapping segments joined it (below). Across EMO-DB's "
        "speakers (`STEPS=sta_speed_emodb_speaker`, the recipe row's 10 folds, 150 epochs, best on validation, subnormals "
        "flushed, 15-21 minutes a fold on the 2 CPU cores, 2 at a time) it scores 62.00 ± 13.32 UA, level with the "
        "recipe's 62.21 (paired −0.21 ± 10.51, above it in 5 of 10 folds) and −8.95 ± 14.83 against the linear baseline "
        "(above it in 3 of 10): the +3 target is missed by 11.95. The same runs' last epoch scores 66.61 ± 13.37, "
        "+5.09 ± 8.48 over the recipe's last epoch (8 of 10 folds up) and −4.33 ± 14.26 against the baseline (4 of 10 "
        "above). With three times the optimiser steps an epoch, the one validation speaker of each fold peaked at "
        "epochs 3, 41, 28 and 12 in folds 0-3 (73-144 in the other six), so the checkpoint it chose there had not "
        "learnt what the last epoch had (fold 0: 46.2 against 80.2 UA; without the copies the two rules were level, "
        "62.21 against 61.52). That is a reading of the test folds, not a reason to change the rule afterwards: the "
        "rule stays best on validation, and the last epoch is the row beside it. Neither reaches the baseline across "
        "EMO-DB's speakers. Across RAVDESS's speakers (`STEPS=sta_speed_ravdess_speaker`, the recipe row's 6 folds, 150 "
        "epochs, best on validation, 52-59 minutes a fold on the 2 CPU cores, 2 at a time, the first two beside a CI run) "
        "the copies score 58.92 ± 7.19 UA, +11.72 ± 5.30 over the recipe's 47.20 ± 3.59 on the same folds (above it in 6 of 6) and "
        "+6.12 ± 4.23 against the linear baseline (above it in 6 of 6): the +3 target is met, within the folds' spread (the mean crosses it by less than the paired std). The same runs' last epoch scores "
        "57.75 ± 5.48, +4.95 ± 4.31 against the baseline (+10.09 ± 7.38 over the recipe's last epoch); validation picked "
        "epochs 71, 44, 113, 92, 60, 99. On RAVDESS the copies help STA-CNN across speakers as on 6:2:2 (the paired gain over the recipe exceeds its spread); across EMO-DB's speakers they did not. "
        "On EMO-DB 6:2:2 the copies stay 2.74 below "
        "the baseline. "
        "*Architecture gaps* (opt-in, beyond the paper's text; `STEPS=sta_arch_emodb`, on top of the recipe, EMO-DB "
        "6:2:2, the recipe row's 3 splits, 150 epochs, best on validation, about 4 minutes a trial on the 2 CPU cores, "
        "2 at a time). The paper names only convolution, ReLU and pooling in the LFE layer and sums the self-attention "
        "outputs over positions (Eq. 6). BatchNorm after each convolution, outputs summed: validation UA 86.70 ± 0.92 "
        "against the recipe's 87.04, test 74.93 ± 6.52 (paired −5.87 ± 6.79). Outputs averaged instead of summed, "
        "without BatchNorm: validation 75.50 ± 0.74, test 72.36 ± 2.35 (paired −8.44 ± 9.99): the mean over the 25 "
        "positions of a 2.0 s segment is 25 times smaller than the sum, and at lr 1e-4 this variant learns far more "
        "slowly (70 validation UA first reached at epochs 66-83, against 26-34 for the recipe with masking; best "
        "validation epochs 117-142); that the scale is the cause is our reading, not tested. Both together: validation "
        "87.84 ± 1.97, the only one of the three above the recipe on EMO-DB validation (by 0.8, inside the spread), "
        "test 80.24 ± 1.82 (paired −0.57 ± 6.04: +0.7, +4.8, −7.1 per split). Run on RAVDESS as "
        "the one EMO-DB validation chose (`STEPS=sta_arch_ravdess`, the recipe row's splits, 17-18 minutes a trial), it "
        "scores validation UA 74.15 ± 3.65 against the recipe's 71.32, so the two-corpus rule (mean validation UA over "
        "both corpora) chose it before the speed-copy row ran (81.00 against the recipe's 79.18); but RAVDESS's held-out test does not agree: "
        "67.61 ± 4.14 UA, −3.07 ± 0.81 against the recipe on the same splits (below on all three) and −1.11 ± 6.00 "
        "against the baseline, while the same runs' last epoch scores 70.32 ± 3.72, +2.30 ± 4.29 over the recipe's "
        "last epoch: the loss comes from the checkpoint validation picks. Its validation curves are on EMO-DB no "
        "noisier than the recipe with masking's (mean epoch-to-epoch change of validation UA over the last 30 epochs "
        "3.1 against 3.3 points) and on RAVDESS somewhat noisier (3.0 against 2.2; the plain recipe's per-epoch curves "
        "were lost with the machine that ran them), and its highest validation UA stands 8.7 and 5.9 points above the "
        "mean of its last 30 epochs (the recipe with masking 4.8 and 4.2): a high validation maximum, which is what "
        "the rule reads, that the test sets do not share. Across EMO-DB's speakers (`STEPS=sta_arch_emodb_speaker`, 10 folds, 5-9 "
        "minutes a fold, started once two of the three RAVDESS seeds had put the rule's choice beyond any plausible "
        "third seed: it would have needed a validation UA below 63.7, and no RAVDESS STA-CNN trial here peaked below "
        "66.4) it scores 62.20 ± 10.28 UA, level with the recipe's 62.21 (paired −0.01 ± 12.79, above it in 5 "
        "of 10 folds) although its validation UA is higher again (76.12 against 73.98), and −8.74 ± 9.47 against the "
        "baseline. Across RAVDESS's speakers (`STEPS=sta_arch_ravdess_speaker`, 6 folds, 17-21 minutes a fold, 2 at a "
        "time; folds 4 and 5 were interrupted after 34-35 epochs and resumed from their last checkpoint) it scores 47.59 ± 6.65 UA, level with the recipe's 47.20 ± 3.59 (paired +0.39 ± 6.99: +3.1, +8.6, +5.1, "
        "−0.4, −11.3 and −2.7 per fold) with validation UA again a little higher (56.18 against 55.14), and "
        "−5.21 ± 6.26 against the baseline, above it in 1 of 6 folds (the recipe: −5.60 ± 2.78, in none); the same "
        "runs' last epoch, 47.53 ± 5.59, is level with the recipe's last epoch too (paired −0.13 ± 7.91), so across "
        "speakers the checkpoint choice costs nothing (47.59 picked on validation against 47.53 at the last epoch), "
        "unlike the 2.7 it cost on RAVDESS 6:2:2 (67.61 against 70.32). So the rule fixed before the "
        "runs picks a configuration the held-out tests do not support: level with the recipe on three of the four "
        "protocols (EMO-DB 6:2:2, both corpora's speaker folds, each inside the spread) and 3.1 below it on RAVDESS "
        "6:2:2, with nearly twice the recipe's fold-to-fold spread across RAVDESS's speakers (6.65 against 3.59); we keep it as the rule's "
        "reading and name the recipe, which RAVDESS 6:2:2's held-out test favours and no other held-out test separates "
        "from it, as the stronger of the two. Said plainly: that naming reads the held-out tests, which the rule fixed "
        "before the runs does not allow, so it is an opinion beside the rule, not a choice. It decided nothing: the "
        "speed copies, run next, beat both on validation (mean validation UA over both corpora 84.26 against 81.00 and "
        "79.18), and every later STA-CNN choice followed the rule. Neither the recipe nor BatchNorm + GFE mean is near "
        "the +5 or +3 targets.\n\n"
        "*Overlapping segments* (a gap the paper leaves; `STEPS=\"sta_overlap_emodb sta_overlap_ravdess\"`: 2.0 s "
        "segments at a 1.0 s hop, for training and test alike, on top of the recipe, 6:2:2, the recipe row's 3 splits, "
        "150 epochs, best on validation; about 1.65 times the segments, 12-13 minutes a trial on EMO-DB and 42 on "
        "RAVDESS, 3 at a time on the 2 CPU cores). Validation UA rises on both corpora (EMO-DB 87.81 ± 2.20 against the "
        "recipe's 87.04 ± 1.90; RAVDESS 74.31 ± 3.05 against 71.32 ± 4.79), so by the two-corpus rule the overlap beats "
        "the recipe (81.06 against 79.18) but not the recipe with speed copies (84.26), which it does not displace "
        "(the overlap on top of the copies: below). The held-out tests: RAVDESS 74.81 ± 2.11 UA, +4.13 ± 3.57 over the recipe on the same splits "
        "(+5.8, +6.5 and 0.0) and +6.09 ± 3.37 over the baseline, over the +5 target (the speed copies: +9.13); EMO-DB "
        "80.90 ± 2.94, level with the recipe (+0.10 ± 5.67: +3.0, +3.8, −6.4) and −4.83 ± 5.78 against the baseline. "
        "Much of the RAVDESS gain lies in the checkpoint validation picks: at the last epoch the overlap leads the "
        "recipe by only +1.13 ± 1.59 (69.15 ± 0.72 against 68.02 ± 1.02). On top of the best configuration, on EMO-DB, the corpus "
        "where STA-CNN misses its target (`STEPS=sta_speed_overlap_emodb`: the recipe, the speed copies and the "
        "overlap, the speed row's 3 splits, 30-31 minutes a trial, 3 at a time), validation UA is 89.70 ± 1.94 against "
        "the speed copies' 88.88 ± 1.18 and the held-out test 84.26 ± 1.37 UA against 83.00 ± 3.37 (paired +1.25 ± "
        "4.54: +3.4, −4.0, +4.3), STA-CNN's highest EMO-DB 6:2:2 reading and still −1.48 ± 4.29 against the baseline "
        "(above it on 1 of 3 splits), 6.48 short of +5. On RAVDESS (`STEPS=sta_speed_overlap_ravdess`, the speed row's 3 "
        "splits, 3 at a time, about 85 minutes a trial on the 2 CPU cores; interrupted at epoch 45 by the end of a session "
        "and resumed from the trials' last checkpoints) validation UA is 81.57 ± 2.08 against the speed copies' "
        "79.63 ± 2.61, so the two-corpus rule fixed before the runs chooses it: 85.63 against 84.26. It is therefore "
        "STA-CNN's best configuration (configs/recipes/sta_cnn.yaml: the recipe, the speed copies and a 1.0 s hop). "
        "RAVDESS's held-out test agrees, EMO-DB's is level within the spread: RAVDESS 79.70 ± 0.45 UA / 81.02 ± 0.53 WA, +1.84 ± 1.60 over the speed copies on the same "
        "splits (+2.9, +2.6, 0.0), +10.98 ± 2.24 over the linear baseline and 4.6 WA above the paper's 76.39 (the same "
        "runs' last epoch 79.57 ± 0.83, so little rests on the checkpoint validation picks); EMO-DB as above, +1.25 ± "
        "4.54 over the speed copies and −1.48 ± 4.29 against the baseline, still short of +5. RAVDESS's +1.84 ± 1.60 "
        "(2 of 3 splits up, one level) just clears its paired std, EMO-DB's +1.25 ± 4.54 does not; with 3 seeds "
        "neither is conclusive: the overlap is a small step on top of the copies, not a second lever of their size. Across "
        "EMO-DB's 10 speakers (`STEPS=sta_speed_overlap_emodb_speaker`, the speed row's folds, 37-60 minutes a trial, "
        "3-4 at a time) the new best configuration scores 65.24 ± 12.73 UA, +3.24 ± 10.34 over the speed copies on the "
        "same folds (5 of 10 up: +19.0 and +17.9 on two folds, −13.1 on another) and +3.03 ± 9.25 over the recipe, "
        "STA-CNN's highest EMO-DB speaker row picked on validation (1.95 above masking + recipe, inside the spread), "
        "and still −5.71 ± 10.94 against the baseline (above it on 2 of 10 folds), 8.71 short of +3 (the same runs' "
        "last epoch 66.39 ± 13.38, −4.55 ± 14.55). The gain over the copies is mostly checkpoint selection, not the "
        "overlap: at the last epoch the two are level (66.39 against 66.61, paired −0.22 ± 3.90, 6 of 10 up), and the "
        "largest fold gain, +19.0, is the fold where the copies' validation speaker picked an early checkpoint (46.2 "
        "against 80.2 at their last epoch; this run 65.2). The paired spread (± 10 UA) is three times this step and the "
        "folds' spread (± 12.7) exceeds every step this study has taken on EMO-DB's folds. Across RAVDESS's speakers "
        "it has not finished yet "
        "(`STEPS=sta_speed_overlap_ravdess_speaker`, about 7.5 hours on the 2 CPU cores; 'Not yet run'), so that cell of the summary table reads not finished, "
        "scores nothing, and the speed copies' row above (+6.12 ± 4.23) is the nearest evidence.\n\n"
        "*What the paper's 76.39 on RAVDESS is not* (`STEPS=\"sta_leaky_ravdess sta_curve_ravdess\"`, 6:2:2, 3 seeds, the "
        "defaults). Neither leak that could lift a published number reaches it. Drawn over 2.0 s segments instead of "
        "utterances (sibling segments of one recording in training and test), STA-CNN scores 65.33 ± 1.54 WA, *below* "
        "the leak-free 69.91 ± 1.00 of the same seeds: unlike STRL-SER's functionals per utterance, spectra of different "
        "seconds of a recording carry no shared fingerprint to recognise, and a leaky test utterance is scored from "
        "fewer of its segments (576 test segments from 2881, mostly one per utterance). Picking the best epoch on the "
        "test set itself (the test set scored after every epoch, `sermodels.diagnostics.ReportedSetCurve`) gives "
        "72.45 ± 1.06 WA, +2.5 over the checkpoint chosen on validation and still 3.9 below the paper. That rerun of the "
        "defaults on a fresh machine (69.91 WA / 68.46 UA) agrees with the published row (68.75 / 67.53) within the "
        "seeds' spread. No reading of the paper's own configuration reaches 76.39; what is left are gaps this study cannot close from the "
        "text (the feature block sizes and layer widths the paper does not give, any unstated augmentation): with speed "
        "copies of the training audio on top of the recipe, beyond the paper, STA-CNN scores 78.94 WA, and 81.02 with overlapping segments as well (below). "
        "*On EMO-DB* (`STEPS=sta_curve_emodb`, the same 3 seeds) the rerun of the defaults scores 78.50 ± 0.93 WA / "
        "76.88 ± 1.85 UA (published row 79.75 / 77.94, within the seeds' spread), and the LEAKY best epoch picked on "
        "the test set 81.62 ± 1.95 WA, +3.1 and above the paper's 80.23: there the paper's number lies inside the span "
        "that picking the checkpoint on the reported set opens, so no further explanation is needed. "
        "STA-CNN learns from spectra of ~300-860 training utterances; the "
        "functionals encode decades of feature engineering, and on these corpora that wins."
    ),
}

NOTES["Where EMO-DB's margins go"] = (
    "*Utterance by utterance* (`ser-report errors STUDY/<model folder> STUDY/baseline_<corpus>_8020 --protocol paper` or "
    "`speaker`: the same splits, trials matched by name; an exact McNemar test on the utterances only one of the two "
    "gets wrong; the tables, with the errors' most frequent confusions and every utterance both get wrong, are in "
    "`docs/errors/`). Counts are of test readings, so their margins are in WA points, where the targets are in UA "
    "(on EMO-DB 80/20 STRL-SER's defaults lead by +2.25 WA and +2.56 UA; across speakers WA and UA differ more). *EMO-DB 80/20* (5 seeds x 107 test utterances = 535 readings): the "
    "linear baseline gets 63 wrong, STRL-SER's defaults at the paper's 150 epochs 51, and 43 of those 51 (36 distinct "
    "utterances) are the baseline's errors too. STRL-SER fixes 20 of the baseline's errors and makes 8 new ones, net "
    "+12 readings (+2.2 WA points), in the same direction on all 5 splits (discordant pairs 7/1, 4/1, 4/3, 3/2 and "
    "2/1) and significant on none alone (McNemar p 0.07, 0.38, 1, 1, 1; pooled 0.036, a summary only: random splits "
    "share utterances). +5 points is about 5 more readings a split, net +27 over the five: STRL-SER would have to "
    "turn about 15 more errors into hits, from the 43 it shares with the baseline or its own 8, and 20 of the 43 "
    "shared errors confuse angry, happy and fearful with one another (angry and happy alone 14). The best "
    "configuration (recipe, functionals dropout, speed copies) trades errors rather than removing them: 61 wrong, 42 "
    "shared, 21 fixed against 19 new (net +2, pooled p 0.87). So on EMO-DB 80/20 STRL-SER's lead over the baseline "
    "is consistent but small, and most of its remaining errors are the baseline's (43 of 51). One reading, not "
    "tested here: its functionals branch reads the same 1582 IS10 functionals as the baseline, so what it learns on "
    "top fixes some of the utterances they misplace but not most. The same comparison on RAVDESS 80/20 (the defaults at "
    "150 epochs, 5 seeds x 288 = 1440 readings) shows a lead of another size: 328 wrong against the baseline's 400, "
    "145 fixed against 73 new (net +72, +5.0 WA and +4.02 UA points), significant on 4 of the 5 splits alone "
    "(McNemar p 0.049, 0.23, 0.0045, 0.032, 0.039). *STA-CNN across EMO-DB's speakers* (the recipe with speed "
    "copies, the best configuration before overlapping segments joined it, 10 folds; each utterance is tested once, so the pooled test covers all 535): the baseline gets "
    "128 wrong, STA-CNN 183, 81 of them shared; STA-CNN fixes 47 of the baseline's errors and makes 102 new ones "
    "(McNemar p = 7.7e-6), more new than fixed in 8 of 10 folds. That deficit is not fold noise: across unseen "
    "speakers the CNN on spectra loses utterances the functionals get right, spread over all classes, the low-arousal "
    "ones most (neutral taken for bored 10 times, bored for sad 9 and for fearful 8, among the 102). The same "
    "configuration across RAVDESS's speakers, a row that meets its target within the spread (+6.12 ± 4.23 "
    "UA), holds up utterance by utterance: 558 wrong against the baseline's 664 over all 1440 utterances, 262 fixed "
    "against 156 new (net +106, +7.4 WA points; McNemar p = 2.4e-7), more fixed than new in all 6 folds and "
    "significant alone in 3 (p 0.12, 0.0038, 0.39, 0.16, 0.018, 0.0073)."
)

NOTES["Speaker normalisation"] = (
    "*Opt-in, beyond the papers* (`--data.speaker_norm true`; `STEPS=\"speaker_norm_baseline speaker_norm_emodb "
    "speaker_norm_ravdess\" scripts/study_recipe.sh`): each speaker's LLDs and functionals are standardised with that "
    "speaker's own statistics, for a speaker absent from training from their own unlabelled utterances, so across "
    "speakers it is transductive (it reads the test speaker's audio, all at once). It is the largest lever the study "
    "found across speakers, for the baseline and STRL-SER alike. The linear baseline rises from 70.95 to "
    "80.71 ± 6.32 UA on EMO-DB's leave-one-speaker-out folds (+9.77 ± 9.80, paired) and from 52.80 to 65.10 ± 5.63 "
    "on RAVDESS's speaker folds (+12.30 ± 5.55); on the speaker-dependent 80/20 splits, where every speaker's "
    "statistics come from their training utterances, it adds +1.87 (EMO-DB) and +3.26 (RAVDESS). STRL-SER with it "
    "(short schedule, bf16): EMO-DB 79.29 ± 6.91 UA (defaults 70.53; +8.02 ± 11.06 over the recipe row on the same "
    "folds, validation UA 78.98 against 71.56), RAVDESS 66.60 ± 5.35 UA (defaults 55.01; +10.61 ± 3.06 over the recipe row, "
    "validation UA 67.32 against 55.60). Against the baseline *with the same normalisation*, the only fair "
    "comparison (both read the test speakers' audio), STRL-SER scores −1.43 ± 3.62 UA on EMO-DB (above it in 3 of 10 "
    "folds) and +1.50 ± 1.51 on RAVDESS (above it in 5 of 6). So speaker variability explains most of what both "
    "models lose across speakers, but it does not separate STRL-SER from the baseline: normalised, the two end within "
    "1.5 UA of each other on both corpora, short of the +3 target. The recipe on top does not change that "
    "(`STEPS=\"speaker_norm_recipe_emodb speaker_norm_recipe_ravdess\"`, the same folds): EMO-DB 79.47 ± 8.78 UA, "
    "−1.24 ± 5.44 against the normalised baseline; RAVDESS 65.82 ± 5.17, +0.72 ± 2.77 (below the switch alone, "
    "66.60). With the best configuration instead (`STEPS=\"speed_speaker_norm speed_speaker_norm_baseline\"`: the "
    "recipe, functionals dropout 0.2 and the speed copies, plus the switch; the same folds, short schedule, bf16) the "
    "functionals dropout and the copies together add +5.06 ± 6.37 UA over the recipe with the switch on EMO-DB (8 of 10 "
    "folds up; without the switch they added +2.62 ± 3.98) and +2.28 ± 0.57 on RAVDESS (all 6 up; without it +2.67 ± "
    "2.85): EMO-DB 84.53 ± 7.90 UA and RAVDESS 68.10 ± 5.10, the highest speaker-fold scores of the study. Against the baseline with the switch alone that is +3.81 ± 6.69 (EMO-DB, 6 of 10 folds "
    "above, +2.08 without fold 2's +19.4) and +2.99 ± 3.04 (RAVDESS, 5 of 6). The targets table pairs these rows, by "
    "choice, with the baseline given the same copies and normalisation, the like-for-like comparison (its own gain from "
    "the copies, EMO-DB 82.44 ± 6.95 UA, +1.73 ± 4.64 with 5 of 10 folds up, and RAVDESS 65.62 ± 5.64, +0.52 ± 1.58, is "
    "within the spread, as without normalisation): +2.09 ± 4.55 (EMO-DB, 7 of 10 folds above) and +2.47 ± 3.47 "
    "(RAVDESS, 4 of 6, one level), short of +3 on both, inside the spread. "
    "*At the paper's 150 epochs* (`STEPS=speaker_norm_emodb150`, the defaults with the switch, EMO-DB's 10 folds, "
    "about 6 minutes a fold, 2 at a time) nothing changes: 79.55 ± 6.80 UA against 79.29 at 30 epochs (paired "
    "+0.26 ± 1.22) and −1.17 ± 2.74 against the normalised baseline (3 of 10 folds above); on RAVDESS "
    "(`STEPS=speaker_norm_ravdess150`, 6 folds, 38-42 minutes a fold, 3 at a time on the 2 cores) the same: 66.54 ± "
    "5.44 UA against 66.60 at 30 epochs (paired −0.07 ± 1.36, 2 of 6 folds up) and +1.43 ± 1.58 against the "
    "normalised baseline (4 of 6 folds above, 2 level), +12.37 ± 4.38 over the defaults at 150 epochs without the "
    "switch (54.17, all 6 folds up): at either schedule the switch lifts STRL-SER and the baseline alike. It stays opt-in: it changes what an evaluation may read, which is the "
    "user's protocol choice, not a model default. On the speaker-dependent 80/20 splits (`STEPS=speaker_norm_8020`, 3 "
    "seeds, short schedule) it does not separate them either: STRL-SER with it scores 88.74 ± 2.68 UA on EMO-DB "
    "(−0.77 ± 2.25 against the normalised baseline; with the recipe 90.04 ± 3.24, +0.53 ± 2.93) and 77.10 ± 2.12 on "
    "RAVDESS (−0.00 ± 2.00; with the recipe 76.66 ± 3.38, −0.45 ± 0.96): the normalised baseline gains as much. STA-CNN reads the waveform and has no per-dimension features to "
    "normalise; the switch is refused there."
)

NOTES["bf16 for STA-CNN"] = (
    "*Not adopted* (`STEPS=sta_bf16_emodb`: STA-CNN defaults, EMO-DB 6:2:2, 3 seeds, 150 epochs, best on validation, "
    "fp32 and `--trainer.precision bf16-mixed` on the same splits and seeds, 2 trials at a time on the 2 CPU cores). "
    "STRL-SER's CPU studies run in bf16 at half the time; STA-CNN's gain little: on the idle machine a training step "
    "takes 105-106 ms in both (batch 32 x 2.0 s, one thread; `scripts/bench_train.py`) and an epoch 1.24 s against "
    "1.50 s, and the trials took 249-288 s against 290-311 s. The test UA of the checkpoint picked on validation is "
    "lower in bf16 on all three splits, 74.30 ± 1.30 against 77.94 ± 2.64 (paired −3.65 ± 3.83: −0.6, −2.4, −7.9), "
    "while validation UA (80.50 against 80.08) and the same runs' last epoch (76.69 against 76.78, paired −0.09 ± 0.73) "
    "are level: the difference lies in which checkpoint validation picks more than in what the model learns, but with "
    "little speed to gain STA-CNN stays in fp32. The fp32 point re-derives the published defaults row "
    "(sta_emodb_150ep_2s, marked †, whose per-trial files were lost) exactly: validation UA 80.08 ± 2.68, WA 79.75 ± "
    "3.00, UA 77.94 ± 2.64 on the same three splits, so STA-CNN's CPU runs repeat on machines of this kind (the "
    "published runs predate the flushing of subnormal floats; these flush them). The input-length comparison's "
    "published 60-epoch 2.0 s row (sta_emodb_input, also †) carries the same three figures to the last digit. Equal "
    "best-on-validation checkpoints would need each seed to peak on validation in the 60 epochs the two schedules "
    "share (the learning rate decays per epoch, whatever `max_epochs`), which the epochs comparison (most 60-epoch "
    "runs still peaking in their last 8 epochs) makes unlikely: that row is probably these 150-epoch runs under the "
    "wrong label. Its trial files were lost, so it cannot be checked without a rerun (3 trials of 60 epochs). The 2.0 s default does not rest on it: its "
    "lead over 1.0 s compares 150-epoch rows on both corpora (this one, re-derived above), and its lead over 3.0 s "
    "uses EMO-DB's 3.0 s row at 60 epochs (78.04 validation UA), which a 150-epoch run could have raised: 3.0 s was "
    "not rerun."
)
NOTES["Re-run check"] = (
    "The study's first machine was lost with its folders (the rows marked † are carried from the page they were "
    "published in). The linear baseline, rerun from scratch on a fresh machine (`scripts/study_baseline.sh`, openSMILE "
    "IS10 extraction included), reproduced every published baseline figure to the last digit: WA and UA mean and std "
    "of all six rows (36 splits) and the seed-0 UAs beside the earlier single runs. The splits are seeded and "
    "scikit-learn fits the SVM deterministically, so the frozen rows' paired Δ were taken against the same per-split baseline as the new "
    "rows'. STRL-SER, rerun on EMO-DB 80/20 at 150 epochs (`STEPS=emodb8020_seeds5`, seeds 0-2 of three published "
    "3-seed rows, bf16, on this study's later machine): the defaults repeat their published mean and std, 91.79 ± "
    "2.82 UA against 91.80 ± 2.82 (their per-seed files were lost: † until then); the two rows with label smoothing "
    "and mixup do not repeat exactly: the recipe 88.47 ± 2.66 against 88.74 ± 3.82 (per seed −1.02, −0.89, +1.10 "
    "UA), the best configuration 87.55 ± 3.48 against 87.85 ± 3.87 (+0.58, −0.90, −0.57), at most 1.1 UA a seed "
    "on 107 test utterances. And on RAVDESS 80/20 at 150 epochs (`STEPS=ravdess150`, now 5 seeds, bf16) seeds 0-2 "
    "repeat the published defaults row exactly: 76.74 ± 0.92 WA and 76.00 ± 1.18 UA (per seed 75.90, 77.22 and 74.87 "
    "UA), its LEAKY best epoch on the reported set 78.24 ± 1.12 WA and 77.54 ± 1.20 UA, as published († until "
    "then). All four published runs predate the flushing of subnormal floats in training "
    "(`torch.set_flush_denormal`, `SERModule`): the two without label smoothing and mixup repeat, the two with them "
    "do not; what makes them differ was not tested. The 5-seed rows replace all four."
)

NOT_YET = [
    "Speaker normalisation at the paper's 150 epochs on the 80/20 splits (across both corpora's speakers it ran: "
    "level with the 30-epoch rows).",
    "STRL-SER's recipe and best configuration on RAVDESS 80/20 at the paper's 150 epochs with seeds 3-4 "
    "(the steps `final_ravdess150` and `speed_ravdess150` run seeds 0-2; about 30 and 45 minutes a trial, 2 at a "
    "time): the defaults and the baseline beside them have 5 seeds, these rows 3.",
    "STA-CNN's best configuration (recipe + speed copies + overlapping segments) across RAVDESS's speakers "
    "(`STEPS=sta_speed_overlap_ravdess_speaker`; 4 of its 6 folds finished: 0 and 1 in the third session that ran "
    "it, resumed from the second's `last.ckpt` at epoch 53, and 2 and 3 in the fourth, resumed from the third's at "
    "epochs 24 and 3; their scores are the last item); until all six finish, the summary "
    "table shows this cell as not finished, with no score, and nothing is concluded from the finished folds. It costs more than one session here holds: on the 2-core AVX2 machine of the "
    "second attempt (a STA-CNN step 1.9x slower than on the machine that ran the speed copies; results.md) an epoch "
    "took 1.5 minutes with 3 folds sharing the cores and 1.0 with 2 (one core each; the time goes to the CNN's forward "
    "and backward passes, py-spy), so about 150 core-minutes a fold and 7.5 hours for the six, where a session lasts 3 hours and "
    "its machine may be fresh (the first attempt's folds were lost with theirs). So it runs 2 folds at a time "
    "(`JOBS=2`), started first thing in a session, and each session carries the folds it finished to the next in "
    "`docs/study/unfinished/sta_ravdess_speaker_recipe_speed_overlap/` (`ser-experiment --export-finished`; README "
    "'Experiments'). To resume: `ser-experiment --out STUDY/sta_ravdess_speaker_recipe_speed_overlap "
    "--import-finished docs/study/unfinished/sta_ravdess_speaker_recipe_speed_overlap` where that folder exists, then "
    "the step; a machine that kept its `runs/` resumes the killed folds from their `last.ckpt` as well. Across "
    "EMO-DB's speakers it ran (65.24 ± 12.73 UA, −5.71 ± 10.94 against the baseline).",
    "Other speed factor sets (e.g. 0.8-1.2), for either model: one set (0.9/1.1) was tried, chosen on validation, and "
    "none other.",
    "STA-CNN's feature masking (alone or with the recipe) across RAVDESS's speakers (`STEPS=\"sta_masking_ravdess_speaker "
    "sta_masking_recipe_ravdess_speaker\"`, about 6 x 25 CPU-minutes each, the recipe longer: its RAVDESS 6:2:2 trials took "
    "33-43 minutes against masking's 18-28, with 2-3 trials sharing the 2 cores; not investigated). Neither won the "
    "6:2:2 validation comparison; their EMO-DB speaker rows (run on the H100) are level with the recipe's.",
    "STA-CNN's 2-D reading of the LFE convolutions (`conv_type: 2d`; the paper does not say whether they are 1-D or 2-D): a training step costs "
    "5.2 GFLOP per 2.0 s segment against 0.10 for the 1-D default (`torch.utils.flop_counter`, forward and backward; "
    "4.4 M parameters against 0.74 M), about 50x. Measured on the idle 2 CPU cores (`scripts/bench_train.py`, EMO-DB "
    "6:2:2, 445 training segments): a training epoch takes 24.2 s in fp32 with both cores (12.9 s in bf16, which "
    "STA-CNN does not use here: it changed the checkpoint validation picks) against 1.5 s for the 1-D default on one "
    "core, so one 150-epoch fp32 trial holds both cores for about an hour, three seeds three hours, more with the "
    "speed copies (3x the audio): a GPU study, not run.",
    "IEMOCAP and SAVEE: not available in this workplace.",
]


LEDGER = Path("docs/study")
FROZEN_MARK = " †"
FROZEN_NOTE = ("† carried as published: these folders' per-trial files were lost with the machine that ran them, so the "
               "row is kept from the ledger (`docs/study/<folder>.json`, frozen from the page it was published in) "
               "and cannot be re-derived here; rerunning the named step replaces it.")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip()[1:-1].split("|")]


def _row(cells: list[str]) -> str:
    """A Markdown table row, written as this script writes its own (an empty cell is '| |')."""
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


PLACEHOLDERS = {"--out": "STUDY/{folder}", **ROOT_PLACEHOLDERS}


CPU_DEVICE = "CPU"
GPU_MARK = " ‡"
GPU_NOTE = ("‡ run on a lent GPU (one NVIDIA H100; each folder's device is in the commands list of reproduction.md) "
            "in the precision the row names (fp32 where it names none), with the same configs and splits, from float16 "
            "feature packs (`ser-pack`: features rounded by about 1e-3 of each dimension's spread; STA-CNN's waveforms "
            "as FLAC, within half a 16-bit step; README 'Speed'); every other row ran on 2 CPU cores.")


def _device(name: str) -> str:
    """A trial's device as the ledger keeps it: ``CPU`` or the GPU's name, from where its test ran
    (``"cuda:0 (NVIDIA H100 80GB HBM3)"`` -> ``"NVIDIA H100 80GB HBM3"``; ``"cpu"``, ``"cpu (2 threads)"`` -> CPU)."""
    if not name or name.lower().startswith("cpu"):
        return CPU_DEVICE
    named = re.fullmatch(r"\w+(?::\d+)? \((.+)\)", name)
    return named.group(1) if named else name


def _portable(command: str, folder: str) -> str:
    """The command with this machine's folders replaced by what a reader sets: the study folder (``--out``), the
    corpus root (``--data.root``), feature pack (``--data.pack``) or cache (``--data.cache_dir``), and the home folder (``~``) anywhere else;
    ``--opt value`` and ``--opt=value``."""
    try:
        tokens = shlex.split(command)
    except ValueError:  # unbalanced quotes: not a command ser-experiment wrote; keep it whole, the guard still checks
        tokens = [command]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        key, eq, value = tok.partition("=")
        if i and tokens[i - 1] in PLACEHOLDERS:
            tok = PLACEHOLDERS[tokens[i - 1]].format(folder=folder)
        elif eq and key in PLACEHOLDERS:
            tok = f"{key}={PLACEHOLDERS[key].format(folder=folder)}"
        else:
            tok = home_tilde(tok)
        out.append(tok)
    # '~/...' stays unquoted so that a shell expands it; everything else is quoted as shlex would
    return " ".join(t if t.startswith("~/") and shlex.quote(t[2:]) == t[2:] else shlex.quote(t) for t in out)


class Ledger:
    """The study's results as this report reads them: one small JSON per experiment folder under ``docs/study/``,
    committed, so the pages regenerate from a fresh clone. ``sync`` fills it from ``ser-experiment`` folders
    (aggregate, every trial's UA for the paired Δ, the command). A *frozen* entry holds only the rows published
    for a folder whose files are gone (see ``freeze``); it is shown as published and marked †."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, folder: str) -> dict[str, Any] | None:
        path = self.root / f"{folder}.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}: not valid JSON ({e}); restore it with `git checkout -- {path}` or resync it "
                             "with --study") from None

    def groups(self, folder: str) -> list[dict[str, Any]] | None:
        e = self.entry(folder)
        return e["groups"] if e and "groups" in e else None

    def frozen(self, folder: str) -> list[dict[str, Any]] | None:
        e = self.entry(folder)
        return e["frozen"]["rows"] if e and "frozen" in e else None

    def trial_ua(self, folder: str, point: str, names: list[str], last: bool = False) -> dict[str, float] | None:
        """Each trial's test UA (``last``: of its last epoch, where the reported checkpoint was selected)."""
        e = self.entry(folder)
        table = (e or {}).get("trial_ua_last" if last else "trial_ua", {}).get(point, {})
        return {n: table[n] for n in names} if all(n in table for n in names) else None

    def command(self, folder: str) -> str:
        return (self.entry(folder) or {}).get("command", "")

    def devices(self, folder: str) -> list[str]:
        """Where the folder's trials ran (entries synced before devices were recorded: the 2 CPU cores, the only
        device this study had until then)."""
        return (self.entry(folder) or {}).get("devices") or [CPU_DEVICE]

    def sync(self, study: Path, folders: list[str]) -> list[str]:
        """Write the entry of every folder in ``folders`` that has results under ``study``; returns those written.
        Published rows of a frozen entry that the new results do not cover (another grid point or protocol) are
        kept, still frozen; the rest are replaced by the results."""
        written = []
        for folder in folders:
            agg = study / folder / "aggregate.json"
            if not agg.is_file():
                continue
            try:
                groups = json.loads(agg.read_text())["groups"]
            except (json.JSONDecodeError, KeyError) as e:
                raise SystemExit(f"{agg}: not an aggregate ser-experiment wrote ({e!r}); rerun "
                                 f"`ser-experiment --out {agg.parent} --aggregate-only ...` to rewrite it") from None
            trial_ua: dict[str, dict[str, float]] = {}
            trial_ua_last: dict[str, dict[str, float]] = {}
            devices: set[str] = set()
            for g in groups:
                for name in g["trials"]:
                    result = study / folder / g["point"] / name / "result.json"
                    if not result.is_file():
                        raise SystemExit(f"{result}: missing, but {agg} lists trial {name!r}; rerun the experiment "
                                         "(it resumes) so its aggregate and trials agree")
                    r = json.loads(result.read_text())
                    trial_ua.setdefault(g["point"], {})[name] = r["metrics"]["ua"]
                    devices.add(_device(r["metrics"].get("device") or r.get("device", "")))
                    if "last_epoch_metrics" in r:
                        trial_ua_last.setdefault(g["point"], {})[name] = r["last_epoch_metrics"]["ua"]
            groups = [*groups, *(_ensemble_group(g) for g in groups if g.get("ensemble"))]
            for g in groups:
                if g.get("ensemble_of"):
                    trial_ua[g["point"]] = dict(g.pop("trial_ua"))
            exp = study / folder / "experiment.json"
            command = _portable(json.loads(exp.read_text()).get("command", ""), folder) if exp.is_file() else ""
            self.root.mkdir(parents=True, exist_ok=True)
            entry = {"folder": folder, "command": command, "groups": groups, "trial_ua": trial_ua,
                     "devices": sorted(devices)}
            if trial_ua_last:
                entry["trial_ua_last"] = trial_ua_last
            covered = {(g["point"], g["protocol"]) for g in groups}
            kept = [r for r in (self.frozen(folder) or []) if (r.get("point"), r.get("protocol")) not in covered]
            if kept:
                entry["frozen"] = {**(self.entry(folder) or {})["frozen"], "rows": kept}
            text = json.dumps(entry, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            if (leak := MACHINE_PATH.search(text)) or str(Path.home()) + "/" in text:
                at = leak.start() if leak else text.find(str(Path.home()))
                raise SystemExit(f"{agg}: its ledger entry would keep a folder of this machine "
                                 f"(...{text[max(0, at - 40):at + 40]}...); the ledger is committed, so name it "
                                 "with a placeholder (see _portable) before syncing")
            (self.root / f"{folder}.json").write_text(text)
            written.append(folder)
        return written


def _study_for_row(cells: list[str], start: int) -> int | None:
    """Index of the ``STUDY`` folder from ``start`` that a published readings row belongs to: of those whose reading
    it starts with, the one with the longest reading (``RECIPE, bf16, 3 training seeds ...`` is not a row of
    ``RECIPE, bf16``), the first of equals."""
    found = [i for i in range(start, len(STUDY)) if _row_of(cells, STUDY[i])]
    return max(found, key=lambda i: (len(STUDY[i].reading), -i)) if found else None


def _row_of(cells: list[str], s: Study) -> bool:
    """Whether a published readings row can belong to study ``s``."""
    model, corpus, split, reading, schedule = cells[:5]
    reading = reading.removeprefix("**LEAKY** ")
    # a speaker row belongs to a speaker study, or to a paper-protocol study that also ran folds (its groups
    # hold both protocols: the STRL-SER readings of study_more.sh); a paper row only to its own split
    if (s.model, s.corpus, s.schedule) != (model, corpus, schedule) or split not in (s.split, "speaker"):
        return False
    if split == "speaker" and s.split != "speaker" and any(
            (t.model, t.corpus, t.split, t.schedule) == (model, corpus, "speaker", schedule)
            and (reading == t.reading or reading.startswith((t.reading + ",", t.reading + ":"))) for t in STUDY):
        return False  # a speaker study of this very reading exists: the row is its
    return reading == s.reading or reading.startswith((s.reading + ",", s.reading + ":"))


def freeze(markdown: str, ledger: Ledger) -> list[str]:
    """Keep the published rows of every study folder that has no ledger entry, from a page this script wrote
    (docs/reproduction.md): the readings rows (matched to ``STUDY`` in order) and the baseline rows. Returns the
    folders frozen. Used once, when a study's files were lost; a synced entry always wins over a frozen one."""
    rows: dict[str, list[dict[str, Any]]] = {}
    section = ""
    at = 0
    for line in markdown.splitlines():
        if line.startswith("## "):
            section = line
        if not line.startswith("| ") or line.startswith(("| model ", "| corpus ", "|---")):
            continue
        cells = [c.removesuffix(FROZEN_MARK) for c in _cells(line)]  # a page may show frozen rows: store them bare
        if section.startswith("## Linear baseline"):
            corpus, split = cells[0], cells[1]
            if (corpus, split) not in BASELINE:
                raise SystemExit(f"baseline row for {corpus} {split}: no baseline folder is known for it (BASELINE): {line}")
            folder, _ = BASELINE[(corpus, split)]
            if cells[4] != "not run":
                rows.setdefault(folder, []).append({"cells": cells, "baseline": [corpus, split]})
            continue
        if not section.startswith("## Readings") or "(earlier single run" in cells[3]:
            continue
        # Pages before the ledger repeated model, corpus, split and schedule at the head of the reading: drop it.
        cells[3] = cells[3].removeprefix(f"{cells[0]}, {cells[1]} {cells[2]}, {cells[4].split(',')[0]}: ")
        i = _study_for_row(cells, at)
        if i is None:
            raise SystemExit(f"cannot tell which study folder (STUDY) this row of the page given to --freeze-from "
                             f"belongs to; add its folder to STUDY first: {line}")
        at = i
        s = STUDY[i]
        suffix = cells[3].removeprefix("**LEAKY** ")[len(s.reading):].split(":")[0]
        parts = [kv for kv in suffix.split(", ") if kv]
        ensemble = [kv for kv in parts if re.fullmatch(re.escape(ENSEMBLE_READING).replace(re.escape("{n}"), r"\d+"), kv)]
        point = "-".join(kv.replace("=", "") for kv in parts if kv not in ensemble) or "default"
        point += ENSEMBLE if ensemble else ""
        rows.setdefault(s.folder, []).append({"cells": cells, "point": point,
                                              "protocol": "speaker" if cells[2] == "speaker" else "paper"})
    frozen = []
    for folder, found in rows.items():
        if ledger.entry(folder) is None:
            ledger.root.mkdir(parents=True, exist_ok=True)
            entry = {"folder": folder, "frozen": {"rows": found, "source": "docs/reproduction.md as published"}}
            (ledger.root / f"{folder}.json").write_text(json.dumps(entry, indent=1, ensure_ascii=False) + "\n")
            frozen.append(folder)
    return frozen


def _pm(stat: dict[str, float] | None, n: int | None = None) -> str:
    """'mean ± std' in percent; a single value (``n`` = 1) has no spread to show, so no '± 0.00'."""
    if not stat:
        return "—"
    return f"{100 * stat['mean']:.2f}" if n == 1 else f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}"


def _ensemble_group(g: dict[str, Any]) -> dict[str, Any]:
    """A runner group's seed ensemble (ser-experiment --fold-seeds / --init-seeds) as a ledger group of its own: one
    trial per split, named as in a one-seed experiment, so it pairs with the baseline like any one-seed reading."""
    e = g["ensemble"]
    return {"point": g["point"] + ENSEMBLE, "overrides": g.get("overrides") or {}, "protocol": g["protocol"],
            "trials": sorted(e["trial_ua"]), "n": len(e["trial_ua"]), "ensemble_of": e["members"],
            "metrics": {"wa": e["wa"], "ua": e["ua"]}, "selection": g.get("selection", []),
            "test_is_val": g.get("test_is_val", False), "leaky": g.get("leaky", False), "trial_ua": e["trial_ua"]}


def _group(ledger: Ledger, folder: str, protocol: str, point: str | None) -> dict[str, Any] | None:
    for g in ledger.groups(folder) or []:
        if g["protocol"] == protocol and (point is None or g["point"] == point):
            return g
    return None


def _baseline(ledger: Ledger, corpus: str, split: str) -> dict[str, Any] | None:
    key = BASELINE.get((corpus, split))
    return _group(ledger, key[0], key[1], None) if key else None


def _frozen_baseline(ledger: Ledger, corpus: str, split: str) -> list[str] | None:
    key = BASELINE.get((corpus, split))
    for row in (ledger.frozen(key[0]) or []) if key else []:
        if row.get("baseline") == [corpus, split]:
            return row["cells"]
    return None


def _baseline_trials(ledger: Ledger, corpus: str, split: str, names: list[str], folder: str = "") -> dict[str, float] | None:
    """The baseline's UA on exactly these trials (same seeds' splits / same folds): name -> UA; ``folder``: that
    baseline experiment instead of BASELINE's (e.g. the baseline with speaker normalisation)."""
    key = (folder, "") if folder else BASELINE.get((corpus, split))
    if not key:
        return None
    # A split does not depend on the training seed (a speaker fold's --fold-seeds, a paper split's --init-seeds), and
    # the baseline fits the same model whatever the seed: each such trial pairs with its split's baseline trial.
    fold_trial = {n: re.sub(r"^(paper-seed\d+)-init\d+$", r"\1", re.sub(r"^(speaker-fold\d+)-seed\d+$", r"\1-seed0", n))
                  for n in names}
    found = ledger.trial_ua(key[0], "default", sorted(set(fold_trial.values())))
    return {n: found[fold_trial[n]] for n in names} if found else None


def _carried(ledger: Ledger, folder: str, point: str | None = None) -> list[Path]:
    """result.json of each trial of ``folder`` (of its grid ``point`` when given) that a session finished and carried
    (docs/study/unfinished/<folder>/<point>/<trial>/, written by ``ser-experiment --export-finished``)."""
    where = ledger.root / "unfinished" / folder
    return sorted(where.glob(f"{point.removesuffix(ENSEMBLE)}/*/result.json" if point else "*/*/result.json"))


def _trials(n: int) -> str:
    return f"{n} trial" + ("s" if n != 1 else "")


def _progress(ledger: Ledger, found: list[Path], corpus: str, split: str) -> str:
    """How far carried trials got: "k of n folds" under the speaker protocol (n: the corpus's folds, from the
    baseline's trials; k: distinct folds, whatever the seeds per fold), else "k trials" (a paper-protocol experiment
    may run fewer seeds than the baseline, so its whole is not known here)."""
    fold = lambda name: re.sub(r"-seed\d+$", "", name)  # noqa: E731
    of = _baseline(ledger, corpus, split) if split == "speaker" else None
    if of is None:
        return _trials(len(found))
    folds = {fold(t) for t in of["trials"] if t.startswith("speaker-")}
    return f"{len({fold(p.parent.name) for p in found})} of {len(folds)} folds"


def _not_run(ledger: Ledger, folder: str, point: str | None, corpus: str, split: str) -> str:
    """A table cell for a configuration without results: "not run", or "not finished: k of n folds" ("k trials" on
    the paper protocol) while some of its trials are carried (listed under 'Not yet run', never scored in a table)."""
    found = _carried(ledger, folder, point)
    return f"not finished: {_progress(ledger, found, corpus, split)}" if found else "not run"


def carried_so_far(ledger: Ledger, s: Study) -> str:
    """The trials of ``s`` that sessions finished and carried (``docs/study/unfinished/<folder>/``, written by
    ``ser-experiment --export-finished``) while the experiment is not whole yet, each beside the baseline on the
    same split or fold: a partial reading for the not-yet list, never a row ("" when nothing is carried)."""
    found = _carried(ledger, s.folder)
    if not found:
        return ""
    points = {p.parent.parent.name for p in found}
    label = (lambda p: p.parent.name) if points == {"default"} else (lambda p: f"{p.parent.parent.name} {p.parent.name}")
    ua = {p: json.loads(p.read_text())["metrics"]["ua"] for p in found}
    base = _baseline_trials(ledger, s.corpus, s.split, sorted({p.parent.name for p in found}), s.versus) or {}
    progress = _progress(ledger, found, s.corpus, s.split) if not s.versus else _trials(len(found))
    each = "; ".join(f"{label(p)} {100 * u:.2f}"
                     + (f" against the baseline's {100 * base[p.parent.name]:.2f}" if p.parent.name in base else "")
                     for p, u in ua.items())
    return (f"`{s.folder}`: {progress} finished so far, carried in `docs/study/unfinished/{s.folder}/`; "
            f"a partial reading, not a row. Test UA: {each}.")


def _paired_delta(ledger: Ledger, s: Study, g: dict[str, Any], split: str,
                  last: bool = False) -> tuple[dict[str, float], dict[str, float]] | None:
    """Baseline UA on the same splits and the paired difference (reading minus baseline), as mean/std;
    ``last``: of the same runs' last epochs instead of the reported checkpoints."""
    base = _baseline_trials(ledger, s.corpus, split, g["trials"], s.versus)
    ours = ledger.trial_ua(s.folder, g["point"], g["trials"], last=last)
    if not base or not ours:
        return None
    b = [base[n] for n in g["trials"]]
    d = [ours[n] - base[n] for n in g["trials"]]
    stat = lambda v: {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0}  # noqa: E731
    return stat(b), stat(d)


def _paired(ledger: Ledger, s: Study, g: dict[str, Any], split: str, last: bool = False) -> tuple[str, str]:
    """Baseline UA on the same splits (mean ± std) and the paired difference (mean ± std), as text."""
    found = _paired_delta(ledger, s, g, split, last=last)
    if not found:
        return "—", "—"
    b, delta = found
    n = len(g["trials"])
    return _pm(b, n), (f"{100 * delta['mean']:+.2f}" if n == 1 else f"{100 * delta['mean']:+.2f} ± {100 * delta['std']:.2f}")


def _frozen_delta(cells: list[str]) -> tuple[float, float] | None:
    """(mean, std) as fractions from a published Δ UA cell such as '+4.22 ± 1.18'."""
    try:
        mean, std = cells[10].split(" ± ")
        return float(mean) / 100, float(std) / 100
    except ValueError:
        return None


def _bar_label(s: Study, split: str, reading: str, suffix: str = "") -> str:
    """A bar's label, 'model, corpus split, schedule: reading<suffix>', in at most 95 characters: the reading is
    shortened (…), never the suffix or, for a row paired with another baseline (``versus``), that mark."""
    if s.versus:
        reading = reading.split(";")[0].replace(SPEAKER_NORM, "speaker normalisation")
        suffix += " [Δ vs the baseline with both]" if "speed" in s.versus else " [Δ vs the baseline with it]"
    head = f"{s.model}, {s.corpus} {split}, {s.schedule.split(',')[0]}: "
    room = 95 - len(head) - len(suffix)
    return head + (reading if len(reading) <= room else reading[: room - 1] + "…") + suffix


Bar = tuple[str, float, float, int]  # (label, paired Δ UA mean, its std, n), Δ as a fraction


def _figure(**kwargs: Any) -> Any:
    """A matplotlib figure on its own Agg canvas (no pyplot state; ``kwargs`` go to ``Figure``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _delta_bars(ax: Any, bars: list[Bar], colors: list[str]) -> None:
    """One horizontal bar per row (top to bottom), Δ UA in points with its std, labelled with n; a line at 0."""
    y = list(range(len(bars)))[::-1]
    ax.barh(y, [100 * m for _, m, _, _ in bars], xerr=[100 * sd for _, _, sd, _ in bars], color=colors, alpha=0.75,
            error_kw={"elinewidth": 1, "capsize": 2})
    ax.set_yticks(y, [f"{label} (n={n})" for label, _, _, n in bars], fontsize=7)
    ax.axvline(0, color="black", lw=0.8)


def _save_figure(fig: Any, path: Path, dpi: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)


def delta_figure(rows: list[Bar], path: Path) -> None:
    """Horizontal bars: paired Δ UA (reading minus the linear baseline on the same splits), mean ± std,
    one bar per leak-free reading, with the issue's +5 (paper protocol) and +3 (speaker) targets."""
    fig = _figure(figsize=(13, 0.3 * len(rows) + 1.8))
    ax = fig.subplots()
    _delta_bars(ax, rows, ["tab:green" if m > 0 else "tab:red" for _, m, _, _ in rows])
    for x, style, text in ((5, "--", "+5 target (paper protocol)"), (3, ":", "+3 target (speaker)")):
        ax.axvline(x, color="gray", ls=style, lw=0.8, label=text)
    ax.set_xlabel("UA minus the baseline's UA on the same splits (points; mean ± std over seeds / folds)", fontsize=8)
    ax.set_title("STRL-SER and STA-CNN against a linear SVM on IS10 functionals: every leak-free reading,\n"
                 "RAVDESS and EMO-DB, paper protocol (speaker-dependent) and speaker folds, utterance-level UA", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.subplots_adjust(left=0.45, right=0.98, top=0.93, bottom=0.08)
    _save_figure(fig, path, dpi=110)


def _frozen_cells(ledger: Ledger, folder: str, protocol: str, point: str | None) -> list[str] | None:
    """The cells of a folder's first published (frozen) leak-free row for this protocol and grid point."""
    for row in ledger.frozen(folder) or []:
        c = row["cells"]
        if row["protocol"] == protocol and (point is None or row["point"] == point) and not c[3].startswith("**LEAKY"):
            return list(c)
    return None


def _cell(ledger: Ledger, model: str, corpus: str, split: str, candidates: list[Cell]) -> tuple[str, str | None]:
    """'WA / UA (n, Δ UA; note)' of the first candidate folder with results, and that folder."""
    protocol = "speaker" if split == "speaker" else "paper"
    for folder, point, note in candidates:
        g = _group(ledger, folder, protocol, point)
        if g is not None:
            found = _paired_delta(ledger, Study(folder, model, corpus, split, "", "", ""), g, split)
            delta = f"{100 * found[1]['mean']:+.2f} ± {100 * found[1]['std']:.2f}" if found else "—"
            gpu = GPU_MARK if ledger.devices(folder) != [CPU_DEVICE] else ""
            return (f"{_pm(g['metrics']['wa'], g['n'])} / {_pm(g['metrics']['ua'], g['n'])} (n={g['n']}, Δ UA {delta}; {note}){gpu}",
                    folder)
        c = _frozen_cells(ledger, folder, protocol, point)
        if c is not None:
            return f"{c[7]} / {c[8]} (n={c[5]}, Δ UA {c[10]}; {note}){FROZEN_MARK}", folder
    return ("not run" if candidates else "—"), None


def _target_delta(ledger: Ledger, model: str, corpus: str, split: str, folder: str,
                  point: str | None) -> tuple[str, float | None, float | None, int, bool] | None:
    """(UA text, Δ mean, Δ std, n, frozen) of one configuration: its group's paired Δ (against its ``versus``
    baseline where it has one; None where no baseline ran on the same splits), else its published (frozen) row's;
    None where it has not been run. A leaky reading is never a configuration's score."""
    protocol = "speaker" if split == "speaker" else "paper"
    s = next(t for t in STUDY if t.folder == folder)
    if s.leaky:
        raise ValueError(f"TARGETS names {folder}, a LEAKY study: it is never a configuration's score")
    g = _group(ledger, folder, protocol, point)
    if g is not None and not g.get("leaky"):
        found = _paired_delta(ledger, s, g, split)
        return (_pm(g["metrics"]["ua"], g["n"]), found[1]["mean"] if found else None,
                found[1]["std"] if found else None, g["n"], False)
    c = _frozen_cells(ledger, folder, protocol, point)
    d = _frozen_delta(c) if c is not None else None
    if c is not None and d:
        return c[8], d[0], d[1], int(c[5]), True
    return None


TARGETS_FIGURE = "reproduction_targets.png"


def targets_figure(panels: list[tuple[str, float, list[Bar]]], path: Path) -> None:
    """One panel per model, corpus and protocol of TARGETS: each configuration's paired Δ UA (mean ± std) as a
    bar, the panel's target as a dashed line; configurations not run yet are left out."""
    cols = 2
    rows = -(-len(panels) // cols)
    fig = _figure(figsize=(14, 2.5 * rows + 1.0))
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for ax, (title, target, bars) in zip(axes.flat, panels):
        _delta_bars(ax, bars, ["tab:green" if 100 * m >= target else ("tab:orange" if m > 0 else "tab:red")
                               for _, m, _, _ in bars])
        ax.axvline(target, color="gray", ls="--", lw=1)
        # two lines: one line is wider than a panel and ran off the figure's right edge
        ax.set_title(f"{title}: target +{target:.0f}".replace(" (", "\n(", 1), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.supxlabel("UA minus the linear baseline's UA on the same splits (points; mean ± std over seeds / folds)", fontsize=8)
    fig.suptitle("Each fixed configuration against the targets (green: met; orange: above the baseline, short of the target;\n"
                 "red: below it). Utterance-level UA; best checkpoint on validation where the protocol has one, else the last epoch.",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    _save_figure(fig, path, dpi=100)


def targets_table(ledger: Ledger, figure: Path | None = None) -> list[str]:
    """The section that scores every fixed configuration against the issue's targets, one row each (and, with
    ``figure``, the same as a picture written there)."""
    lines = [TARGETS_HEADING, "",
             "The targets: each model beats the linear baseline by at least **+5 UA** under the paper protocol and **+3 UA**",
             "across speakers (paired Δ on the same splits, mean over seeds or folds). Every configuration fixed before its",
             "runs is a row (the defaults; the opt-in recipe, chosen on RAVDESS 6:2:2 validation; STA-CNN's opt-in",
             "feature masking, alone, with the recipe and, on EMO-DB, with per-input normalisation; opt-in speaker",
             "normalisation, whose Δ is taken against the baseline *with the same normalisation*, the only fair pairing;",
             "STRL-SER's functionals dropout, chosen on 6:2:2 validation; the recipe trained with 3 seeds per split, each",
             "seed scored alone (n = splits x seeds) and the seeds' ensemble; and, on top of the functionals dropout,",
             "speed perturbation of the training audio, chosen on 6:2:2 validation, whose Δ is against the plain baseline",
             "(the baseline with the same copies gains nothing: see the readings), also at the paper's 150 epochs and,",
             "for STA-CNN, on top of its recipe (the rows reading not run are in the not-yet list), and with speaker",
             "normalisation, whose Δ is, by choice, against the baseline with both switches (the like-for-like pairing);",
             "none is picked by its score here.",
             "*met*: the mean Δ reaches the target.", "",
             "| model | corpus | protocol | target | configuration | n | UA | Δ UA (paired) | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    met: list[str] = []
    frozen = gpu_used = False
    panels: list[tuple[str, float, list[Bar]]] = []
    for model, corpus, split, configs in TARGETS:
        protocol = "speaker" if split == "speaker" else "paper"
        target = TARGET_UA[protocol]
        where = "speaker folds" if split == "speaker" else f"paper {split}"
        name = {"emodb": "EMO-DB", "ravdess": "RAVDESS"}.get(corpus, corpus)
        panel = (f"{model}, {name}, {'speaker folds (speaker-independent)' if split == 'speaker' else f'{split} (speaker-dependent)'}",
                 target, [])
        panels.append(panel)
        for config, folder, point in configs:
            found = _target_delta(ledger, model, corpus, split, folder, point)
            if found is None:
                lines.append(f"| {model} | {corpus} | {where} | +{target:.0f} | {config} | | "
                             f"{_not_run(ledger, folder, point, corpus, split)} | | |")
                continue
            ua, mean, std, n, old = found
            frozen = frozen or old
            if mean is None or std is None:
                lines.append(f"| {model} | {corpus} | {where} | +{target:.0f} | {config} | {n} | {ua} | "
                             "— (no baseline on the same splits) | |")
                continue
            panel[2].append((config, mean, std, n))
            ok, margin = _verdict(mean, std, target)
            if ok:
                met.append(f"{model} {corpus} {split} ({config}{'; within the spread' if margin else ''})")
            paired_with_own = any(st.versus for st in STUDY if st.folder == folder)
            both = any(st.versus and "speed" in st.versus for st in STUDY if st.folder == folder)
            vs = (" (vs the baseline with both)" if both else " (vs the baseline with it)") if paired_with_own else ""
            gpu = ledger.devices(folder) != [CPU_DEVICE]
            gpu_used |= gpu
            mark = (FROZEN_MARK if old else "") + (GPU_MARK if gpu else "")
            lines.append(f"| {model} | {corpus} | {where} | +{target:.0f} | {config}{mark} | {n} | "
                         f"{ua} | {100 * mean:+.2f} ± {100 * std:.2f}{vs} | "
                         f"{'**yes**' if ok else f'no ({target - 100 * mean:.2f} short)'} |")
    lines += ["", "Met: " + ("; ".join(met) if met else "none") + ". The recipe was chosen on RAVDESS 6:2:2 validation, "
              "so its RAVDESS rows are not independent of that choice (see the notes below). *Within the spread*: the mean "
              "crosses the target by less than the paired std, so the seeds or folds cannot tell it from a miss."]
    if frozen:
        lines += ["", FROZEN_NOTE]
    if gpu_used:
        lines += ["", GPU_NOTE]
    if figure is not None:
        targets_figure([p for p in panels if p[2]], figure)
        lines += ["", f"![each fixed configuration's paired Δ UA against its target](img/{figure.name})", "",
                  "*The table above as a picture: one panel per model, corpus and protocol, one bar per configuration",
                  "that has run (paired Δ UA over the linear baseline, mean ± std over seeds or folds; n on each label),",
                  "the dashed line at the panel's target. Made by this script.*"]
    return lines + [""]


def _target_of(model: str, corpus: str, split: str, config: str) -> tuple[str, str | None]:
    """(folder, grid point) of the TARGETS row labelled ``config`` for that model, corpus and protocol."""
    for m, c, sp, configs in TARGETS:
        if (m, c, sp) == (model, corpus, split):
            for label, folder, point in configs:
                if label == config:
                    return folder, point
    raise KeyError(f"TARGETS has no row {config!r} for {model} {corpus} {split}: BEST names only TARGETS' labels")


def _verdict(mean: float, std: float, target: float) -> tuple[bool, bool]:
    """(met, within the spread) of a paired Δ (fractions) against a target (points): met when the mean reaches it;
    within the spread when it crosses it by less than the paired std (the seeds or folds cannot tell it from a miss)."""
    met = 100 * mean >= target
    return met, met and 100 * (mean - std) < target


def best_table(ledger: Ledger) -> list[str]:
    """The summary section: per model, corpus and protocol of TARGETS, the paper's configuration and the best one
    (BEST) side by side, each as UA and paired Δ over the linear baseline, and whether the best one meets the target.
    Nothing is picked here: both configurations are fixed (BEST), whatever their scores."""
    lines = [BEST_HEADING, "",
             "The question the study answers first: does each model, as its paper configures it and at its best, beat a",
             "linear SVM on the utterance's IS10 functionals by the targets (**+5 UA** paper protocol, **+3 UA** across",
             "speakers; paired Δ on the same splits, mean ± std over seeds or folds)? *Best*: "
             + "; ".join(f"{m}: {best} (`{path}`)" for m, (_, best, path) in BEST.items())
             + ", each chosen on validation data by a rule fixed before its runs, never by the scores below.",
             "Every other configuration is a row of the next section; † and ‡ as noted there.", "",
             "| model | corpus | protocol | target | as published (defaults): UA | Δ UA | best configuration: UA | Δ UA | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    met = within = missed = cells_run = 0
    not_run: list[str] = []
    unpaired: list[str] = []
    defaults_ahead: list[str] = []  # cells where the paper's configuration scores the higher Δ
    defaults_met = 0
    for model, corpus, split, _ in TARGETS:
        protocol = "speaker" if split == "speaker" else "paper"
        target = TARGET_UA[protocol]
        where = "speaker folds" if split == "speaker" else f"paper {split}"
        cells: list[str] = []
        deltas: list[float | None] = []
        verdict = "not run"
        for i, config in enumerate(BEST[model][:2]):
            folder, point = _target_of(model, corpus, split, config)
            found = _target_delta(ledger, model, corpus, split, folder, point)
            mean = std = None
            if found is None:
                cells += [_not_run(ledger, folder, point, corpus, split), ""]
            else:
                ua, mean, std, n, old = found
                mark = (FROZEN_MARK if old else "") + (GPU_MARK if ledger.devices(folder) != [CPU_DEVICE] else "")
                cells += [f"{ua} (n={n}){mark}", "—" if mean is None or std is None else f"{100 * mean:+.2f} ± {100 * std:.2f}"]
            deltas.append(mean)
            if i == 0:
                defaults_met += mean is not None and std is not None and _verdict(mean, std, target)[0]
                continue
            if found is None:
                progress = cells[-2]
                verdict = "not finished" if progress != "not run" else verdict
                not_run.append(f"{model} {corpus} {where}" + (f", {progress}" if progress != "not run" else ""))
            elif mean is None or std is None:
                verdict = "— (no baseline on the same splits)"
                unpaired.append(f"{model} {corpus} {where}")
            else:
                ok, spread = _verdict(mean, std, target)
                verdict = ("**yes**" + (", within the spread" if spread else "")) if ok else f"no ({target - 100 * mean:.2f} short)"
                met += ok
                within += spread
                missed += not ok
        if deltas[0] is not None and deltas[1] is not None:
            cells_run += 1
            if deltas[0] > deltas[1]:
                defaults_ahead.append(f"{model} {corpus} {where} ({100 * deltas[0]:+.2f} against {100 * deltas[1]:+.2f})")
        lines.append(f"| {model} | {corpus} | {where} | +{target:.0f} | " + " | ".join(cells) + f" | {verdict} |")
    total = len(TARGETS)
    parts = [f"The best configurations meet {met} of {total} targets ({within} of them within the spread: the mean ",
             f"crosses the target by less than the paired std) and miss {missed}"]
    if not_run:
        parts.append(f"; {len(not_run)} not run or not finished yet ({'; '.join(not_run)}; see 'Not yet run')")
    if unpaired:
        parts.append(f"; {len(unpaired)} without a baseline on the same splits ({'; '.join(unpaired)})")
    parts.append(f". The defaults meet {defaults_met} of {total}.")
    if defaults_ahead:
        parts.append(f" The defaults score the higher Δ in {len(defaults_ahead)} of the {cells_run} cells where both ran: "
                     f"{'; '.join(defaults_ahead)}. The best configurations were chosen on 6:2:2 validation data (STRL-SER's "
                     "recipe on RAVDESS's alone), so they need not win every cell, and their RAVDESS rows are not "
                     "independent of that choice.")
    lines += ["", "".join(parts), "", BEST_CAVEAT, "", "Why the models fall short where they do: 'What the study says so far'.", ""]
    return lines


def side_by_side(ledger: Ledger) -> str:
    """docs/results.md's summary section: the linear baseline, STRL-SER and STA-CNN (current defaults) per corpus
    and split, WA / UA mean ± std with the paired Δ UA, and the commands that made every cell."""
    lines = [SIDE_BY_SIDE_HEADING, "",
             "WA / UA in %, utterance level, mean ± sample std over seeds (speaker-dependent random splits) or folds",
             "(speaker-independent). Δ UA: the deep model minus the linear baseline **on the same splits**, paired (where the",
             "baseline column holds more seeds than a model's cell, Δ is not the difference of the two columns). Deep",
             "models: the current defaults (STRL-SER: branch tokens, functionals per utterance, the paper's 150 epochs;",
             "STA-CNN: 2.0 s segments, 150 epochs, best checkpoint on validation), nothing selected on the reported set;",
             "a short-schedule cell is shown (and labelled) where the 150-epoch run was not made. Every reading, the",
             "leaky diagnostics and the study's conclusions: [reproduction.md](reproduction.md). 2 CPU cores; rows marked ‡ "
             "ran on a lent H100.",
             "Generated by `make report` (`scripts/reproduction_report.py`) from the study ledger in `docs/study/`.", "",
             "| corpus, split | protocol | linear baseline | STRL-SER | STA-CNN | paper (WA) |", "|---|---|---|---|---|---|"]
    scripts: dict[str, list[str]] = {"scripts/study_baseline.sh": []}
    frozen = gpu_used = False
    for label, protocol, corpus, split, strl, sta, paper in SIDE_BY_SIDE:
        base = _baseline(ledger, corpus, split)
        old = _frozen_baseline(ledger, corpus, split)
        if base:
            base_text = f"{_pm(base['metrics']['wa'], base['n'])} / {_pm(base['metrics']['ua'], base['n'])} (n={base['n']})"
        else:
            base_text = f"{old[4]} / {old[5]} (n={old[3]}){FROZEN_MARK}" if old else "not run"
        cells = []
        for model, candidates in (("STRL-SER", strl), ("STA-CNN", sta)):
            text, folder = _cell(ledger, model, corpus, split, candidates)
            cells.append(text)
            script = next((s.script for s in STUDY if s.folder == folder), None)
            if script:  # "scripts/study_recipe.sh (step)" -> that script's STEPS
                name, _, step = script.partition(" (")
                steps = scripts.setdefault(name, [])
                if step and step.rstrip(")") not in steps:
                    steps.append(step.rstrip(")"))
        frozen = frozen or FROZEN_MARK in base_text + "".join(cells)
        gpu_used = gpu_used or GPU_MARK in "".join(cells)
        lines.append(f"| {label} | {protocol} | {base_text} | {cells[0]} | {cells[1]} | {paper} |")
    if frozen:
        lines += ["", FROZEN_NOTE]
    if gpu_used:
        lines += ["", GPU_NOTE]
    lines += ["", "```bash"]
    for name, steps in scripts.items():
        env = 'STEPS="' + " ".join(steps) + '" ' if steps else ""
        lines.append(f"RAVDESS=... EMODB=... OUT=~/study {env}bash {name}")
    lines += ["make report STUDY=~/study   # syncs docs/study/ from the folders, then rewrites both pages",
              "```", ""]
    return "\n".join(lines)


def replace_section(text: str, section: str, name: str = "results file") -> str:
    """``text`` (of the file ``name``) with the side-by-side section (up to the next '## ' heading) replaced."""
    start = text.find(SIDE_BY_SIDE_HEADING)
    if start < 0:
        raise SystemExit(f"{name}: has no section {SIDE_BY_SIDE_HEADING!r}; add that heading where the table belongs")
    end = text.find("\n## ", start + len(SIDE_BY_SIDE_HEADING))
    return text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")


def render(ledger: Ledger, figure: Path | None = None) -> str:
    """The Markdown page; with ``figure``, also the Δ UA bar chart written there."""
    lines = [
        "# Reproduction study: how good are STRL-SER and STA-CNN, and why do the papers report more?",
        "",
        "Generated by `make report` (`python scripts/reproduction_report.py`) from the study ledger in",
        "`docs/study/` (one JSON per `ser-experiment` folder: its aggregate, every trial's UA and the command), which",
        "`make report STUDY=folder` first syncs from the folders that the scripts named in each row made. Machine:",
        "2 CPU cores (torch 2.9.1); rows marked ‡ ran on one lent NVIDIA H100 (torch 2.11.0+cu130). Utterance-level metrics, mean ± sample std over seeds (paper",
        "protocol: another random split *and* initialisation per seed) or folds (speaker protocol).",
        "",
        "- **paper 80/20** (STRL-SER): seeded stratified random split of utterances, *speaker-dependent*; the",
        "  reported set is the validation set, so the **last epoch** is scored and nothing is selected on it.",
        "- **paper 6:2:2** (STA-CNN's; also where STRL-SER readings are chosen on validation): as above with a held-out",
        "  test set; STA-CNN tests its checkpoint best on validation, STRL-SER its last epoch.",
        "- **speaker**: speaker-independent folds (RAVDESS 6 x 4 actors, EMO-DB leave-one-speaker-out).",
        "- **LEAKY** rows are diagnostics of what a paper's number could hide; they are never a model's score.",
        "- *Schedule*: `30 ep, lr x0.9` is the study's short schedule (lr ends at 4 % of its start, as",
        "  0.95^60 does); the paper's is 150 epochs at x0.95. Readings are compared under the same schedule. On",
        "  RAVDESS 80/20 the two schedules score the same (76.23 vs 76.00 UA, the same 3 splits); on EMO-DB 80/20 the short one is 2.1",
        "  points lower, so short-schedule margins over the baseline are conservative.",
        "- *bf16*: `--trainer.precision bf16-mixed` (half the time on the AVX-512 CPUs that ran these steps; same test",
        "  predictions as fp32 on the same splits to within one utterance, EMO-DB 6:2:2). A CPU without bfloat16",
        "  kernels (AVX2 only) refuses it, naming `32-true`: the bf16 steps of `scripts/study_recipe.sh` need AVX-512 or a GPU.",
        "",
        "## Linear baseline (standardised linear SVM, C = 0.01, on the 1582 IS10 functionals per utterance)",
        "",
        "| corpus | split | protocol | n | WA | UA | command |",
        "|---|---|---|---|---|---|---|",
    ]
    frozen_used = gpu_used = False
    for (corpus, split), (folder, protocol) in BASELINE.items():
        g = _baseline(ledger, corpus, split)
        old = _frozen_baseline(ledger, corpus, split)
        if g is not None:
            lines.append(f"| {corpus} | {split} | {protocol} | {g['n']} | {_pm(g['metrics']['wa'], g['n'])} | {_pm(g['metrics']['ua'], g['n'])} | "
                         f"`scripts/study_baseline.sh` ({folder}) |")
        elif old is not None:
            frozen_used = True
            lines.append(_row(old[:-1] + [old[-1] + FROZEN_MARK]))
        else:
            lines.append(f"| {corpus} | {split} | {protocol} | — | not run | | `scripts/study_baseline.sh` |")
    lines += [""] + best_table(ledger) + targets_table(ledger, figure.parent / TARGETS_FIGURE if figure is not None else None)
    lines += ["## Readings", "",
              "Baseline UA is the linear baseline on exactly the same splits (same seeds or folds); Δ UA is the",
              "paired difference (reading minus baseline per split), mean ± std.",
              "",
              "*val UA* is the validation score the runner may select on (only where validation is not the reported set): for",
              "a checkpoint best on validation, the best validation UA over its epochs (the checkpoint itself is picked on",
              "validation WA, so the tested epoch's validation UA can be a little lower); for the last epoch, that epoch's.",
              "",
              "| model | corpus | split | reading | schedule | n | val UA | WA | UA | baseline UA (same splits) | Δ UA (paired) | paper WA |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    missing = []
    carried: list[str] = []
    bars: list[Bar] = []
    for s in STUDY:
        groups = ledger.groups(s.folder)
        old_rows = ledger.frozen(s.folder)  # published rows the ledger could not re-derive (all, or those not rerun)
        if groups is None and old_rows is None:
            missing.append(f"`{s.folder}` ({s.script})")
            if so_far := carried_so_far(ledger, s):
                carried.append(so_far)
            continue
        for row in old_rows or []:
            frozen_used = True
            c = list(row["cells"])
            c[3] += FROZEN_MARK
            lines.append(_row(c))
            found = _frozen_delta(c)
            if not c[3].startswith("**LEAKY") and found and s.model in PAIRED_MODELS:
                bars.append((_bar_label(s, c[2], row["cells"][3]), found[0], found[1], int(c[5])))
        for g in groups or []:
            split = "speaker" if g["protocol"] == "speaker" else s.split
            base = ledger.groups(s.versus) if s.versus else _baseline(ledger, s.corpus, split)
            swept = [f"{k.split('.')[-1]}={v}" for k, v in (g.get("overrides") or {}).items()
                     if g["point"] != "default" and f"{k.split('.')[-1]}{v}" in g["point"]]
            point = f", {', '.join(swept)}" if swept else ""
            if g.get("ensemble_of"):
                point += f", {ENSEMBLE_READING.format(n=g['ensemble_of'])}"
            label = ("**LEAKY** " if s.leaky else "") + s.reading + point
            ua = g["metrics"]["ua"]
            base_ua, delta = _paired(ledger, s, g, split) if base else ("—", "—")
            if s.leaky:
                delta = "n/a (leaky)"
            elif s.model in PAIRED_MODELS and figure is not None and (found_delta := _paired_delta(ledger, s, g, split)):
                bars.append((_bar_label(s, split, s.reading + point), found_delta[1]["mean"], found_delta[1]["std"], g["n"]))
            paper = PAPER_WA.get((s.model, s.corpus, s.split), "—") if g["protocol"] != "speaker" else "—"
            gpu = ledger.devices(s.folder) != [CPU_DEVICE]
            gpu_used |= gpu
            schedule = s.schedule + (GPU_MARK if gpu else "")
            lines.append(f"| {s.model} | {s.corpus} | {split} | {label} | {schedule} | {g['n']} | {_pm(g.get('val_ua'), g['n'])} | "
                         f"{_pm(g['metrics']['wa'], g['n'])} | {_pm(ua, g['n'])} | {base_ua} | {delta} | {paper} |")
            if "best_epoch_on_reported_set" in g and s.model in PAIRED_MODELS:  # a closed-form fit has no epochs to pick
                b = g["best_epoch_on_reported_set"]
                lines.append(f"| {s.model} | {s.corpus} | {split} | **LEAKY** {s.reading}{point}: best epoch picked on the reported set | "
                             f"{schedule} | {g['n']} | | {_pm(b['wa'], g['n'])} | {_pm(b['ua'], g['n'])} | | | |")
            if "last_epoch" in g:  # the same runs' last epoch beside the checkpoint selected on validation
                b = g["last_epoch"]
                base_ua, delta = _paired(ledger, s, g, split, last=True)
                if s.leaky:
                    base_ua, delta = "", "n/a (leaky)"
                reading = f"{label}: the same runs' last epoch (nothing selected)"
                lines.append(f"| {s.model} | {s.corpus} | {split} | {reading} | {schedule} | {g['n']} | | "
                             f"{_pm(b['wa'], g['n'])} | {_pm(b['ua'], g['n'])} | {base_ua} | {delta} | {paper} |")
                if (figure is not None and not s.leaky and s.model in PAIRED_MODELS
                        and (found_last := _paired_delta(ledger, s, g, split, last=True))):
                    bars.append((_bar_label(s, split, s.reading + point, ", last epoch"), found_last[1]["mean"],
                                 found_last[1]["std"], g["n"]))
    for model, corpus, split, reading, schedule, wa, ua, n in EARLIER:
        base0 = _baseline_trials(ledger, corpus, split, ["paper-seed0"])  # the earlier runs used seed 0's split
        b = f"{100 * base0['paper-seed0']:.2f} (seed 0)" if base0 else "—"
        d = f"{float(ua) - 100 * base0['paper-seed0']:+.2f}" if base0 else "—"
        lines.append(f"| {model} | {corpus} | {split} | {reading} (earlier single run, seed 0) | {schedule} | {n} | | {wa} | {ua} | "
                     f"{b} | {d} | {PAPER_WA.get((model, corpus, split), '—')} |")
    if frozen_used:
        lines += ["", FROZEN_NOTE]
    if gpu_used:
        lines += ["", GPU_NOTE]
    if figure is not None and bars:
        delta_figure(bars, figure)
        lines += ["", f"![paired Δ UA of every leak-free reading against the linear baseline](img/{figure.name})", "",
                  "*Every leak-free reading above as one bar: its UA minus the linear baseline's UA on the same splits",
                  "(paired per seed or fold), mean ± std; green above zero. Dashed: the +5 target (paper protocol);",
                  "dotted: the +3 target (speaker protocol). Made by this script.*"]
    lines += ["", "Commands: each folder is made by the script named below (run from the repository root with the",
              "corpus folders set, e.g. `EMODB=... OUT=~/study bash scripts/study_more.sh`); the exact call it made is in",
              "its ledger entry `docs/study/<folder>.json` (`command`).", ""]
    for s in STUDY:
        if ledger.entry(s.folder) is not None:
            on = ", ".join(ledger.devices(s.folder))
            lines.append(f"- `{s.folder}`: `{s.script}`" + ("" if on == CPU_DEVICE else f", on {on}"))
    lines += ["", "![per-class recall, STRL-SER vs baseline, RAVDESS](img/recall_strl_ravdess_vs_baseline.png)", "",
              "*Per-class recall on RAVDESS, paper protocol 80/20 (speaker-dependent; test = validation, last epoch):",
              "STRL-SER with branch tokens and HSFs per utterance (short schedule, 3 seeds) beside the linear baseline",
              "(5 seeds); mean ± std over trials. Made with `ser-report recall ~/study/strl_ravdess_hsf_utterance",
              "~/study/baseline_ravdess_8020 --protocol paper`.*"]
    lines += ["", "## What the study says so far", ""]
    for model, text in NOTES.items():
        lines += [f"**{model}.** {text}", ""]
    lines += ["## Not yet run", ""]
    lines += [f"- {m}" for m in NOT_YET]
    if missing:
        lines += [f"- Study folders without results yet: {', '.join(missing)}."]
    lines += [f"- {c}" for c in carried]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", default=None,
                    help="folder holding ser-experiment outputs (OUT of scripts/study_*.sh): synced into the ledger first")
    ap.add_argument("--ledger", default=str(LEDGER), help="the study ledger, one JSON per folder (default: docs/study)")
    ap.add_argument("--out", default="docs/reproduction.md")
    ap.add_argument("--results", default=None, help="also rewrite this file's side-by-side section (docs/results.md)")
    ap.add_argument("--freeze-from", default=None, metavar="PAGE",
                    help="keep the rows this page (an earlier docs/reproduction.md) published for every folder the "
                         "ledger lacks (once, when a study's files were lost); they are shown marked †")
    args = ap.parse_args(argv)
    ledger = Ledger(Path(args.ledger))
    if args.study is not None:
        study = Path(args.study).expanduser()
        if not study.is_dir():
            raise SystemExit(f"--study {study}: no such folder; give the folder holding the ser-experiment outputs "
                             "(OUT of scripts/study_*.sh), or leave --study out to render from the ledger alone")
        folders = [s.folder for s in STUDY] + sorted({f for f, _ in BASELINE.values()})
        print(f"synced {len(ledger.sync(study, folders))} folders from {study} into {ledger.root}")
    for option, value in (("--freeze-from", args.freeze_from), ("--results", args.results)):
        if value and not Path(value).is_file():
            raise SystemExit(f"{option} {value}: no such file; give {'a page this script wrote' if option == '--freeze-from' else 'docs/results.md'}")
    if args.freeze_from:
        print(f"froze {len(freeze(Path(args.freeze_from).read_text(), ledger))} folders' published rows into {ledger.root}")
    out = Path(args.out)
    text = render(ledger, figure=out.parent / "img" / "reproduction_delta_ua.png")
    out.write_text(text)
    print(f"wrote {out}")
    if args.results:
        results = Path(args.results)
        results.write_text(replace_section(results.read_text(), side_by_side(ledger), str(results)))
        print(f"wrote the side-by-side section of {results}")


if __name__ == "__main__":
    main()
