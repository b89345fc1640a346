#!/usr/bin/env bash
# Second round of the reproduction study (docs/reproduction.md): bf16 against fp32, STA-CNN's gaps
# (input length) over seeds, and opt-in recipe switches for STRL-SER chosen on validation data
# (EMO-DB 6:2:2, test held out), then the chosen recipe under every protocol on both corpora.
#   EMODB=... RAVDESS=... OUT=~/study STEPS="bf16 sta_input recipe" bash scripts/study_recipe.sh
# Steps (run in the order given by STEPS):
#   bf16         STRL-SER defaults, EMO-DB 6:2:2, 3 seeds, bf16-mixed (compare: strl_emodb_fusion_622 branches, fp32)
#   sta_input    STA-CNN, EMO-DB 6:2:2, 3 seeds: 1.0 / 2.0 / 3.0 s segments, and whole utterances cropped to 3 s
#   recipe       STRL-SER, EMO-DB 6:2:2, 3 seeds, one switch at a time: mixup 0.2, label smoothing 0.1,
#                weight decay 1e-4, dropout 0.5 (base = the bf16 step)
#   readings     STRL-SER, EMO-DB 6:2:2, 3 seeds, bf16: overlapping segments (hop = half a segment) and
#                "LLDs only" (the paper's ablation), against the bf16 step
#   schedule150  STRL-SER defaults, EMO-DB 80/20, 5 seeds, bf16: the paper's 150 epochs x0.95 against the short
#                schedule (compare: strl_emodb_hsf_utterance, fp32, 30 epochs x0.9)
#   sta_epochs   STA-CNN, EMO-DB 6:2:2, 3 seeds, 150 epochs (best on validation), at the segment length that won
#                on validation UA in sta_input (the paper leaves the epochs open; 60 still climbed on validation)
#   ravdess150   STRL-SER defaults, RAVDESS 80/20, 5 seeds (the baseline's count; 3 until 2026-12-07), bf16, the
#                paper's 150 epochs x0.95 (schedule150 showed the short schedule scoring below it on EMO-DB)
#   ravdess_speaker  STRL-SER defaults, RAVDESS speaker folds (6 x 4 actors), bf16
#   recipe_ravdess  the two switches that scored best on EMO-DB's *test* sets but that EMO-DB's small validation
#                sets could not separate (label smoothing 0.1, mixup 0.2), on RAVDESS 6:2:2 validation (288
#                utterances), 3 seeds, against the defaults
#   sta_ravdess  STA-CNN, 1.0 s segments (the first round's choice, on EMO-DB alone), 150 epochs, RAVDESS 6:2:2, 3 seeds
#   sta_input_ravdess  STA-CNN, RAVDESS 6:2:2, 3 seeds, 150 epochs: 2.0 and 3.0 s segments against sta_ravdess's
#                1.0 s (chosen on EMO-DB validation alone; RAVDESS validation checks that it carries over)
#   sta_emodb_2s150  STA-CNN, EMO-DB 6:2:2, 3 seeds, 2.0 s segments at 150 epochs (sta_input compared lengths at 60
#                epochs; sta_input_ravdess at 150): both corpora's validation UA at the same schedule
#   sta_emodb_speaker_2s  STA-CNN, EMO-DB speaker folds, 2.0 s segments (the length chosen on both corpora's validation)
#   sta_emodb_speaker  STA-CNN, 1.0 s segments, EMO-DB speaker folds (the first round's length)
#   sta_ravdess_speaker  STA-CNN defaults (2.0 s) under the speaker protocol, RAVDESS (every fold)
#   emodb_speaker150  STRL-SER defaults, EMO-DB speaker folds (leave one speaker out), bf16, the paper's 150 epochs
#                x0.95 (the short schedule understated the EMO-DB 80/20 margin by 2.2 UA points)
#   ravdess_speaker150  STRL-SER defaults, RAVDESS speaker folds, bf16, the paper's 150 epochs x0.95
#   final_emodb_speaker150, final_ravdess_speaker150  RECIPE on EMO-DB / RAVDESS speaker folds at the paper's 150 epochs
#                x0.95 (compare: emodb_speaker150 / ravdess_speaker150, the defaults on the same folds and schedule)
#   final_ravdess150, final_emodb150  RECIPE on RAVDESS / EMO-DB 80/20 at the paper's 150 epochs x0.95 (the schedule of
#                the default rows it is compared with: ravdess150, schedule150)
#   sta_recipe_ravdess, sta_recipe_emodb  STA-CNN defaults + RECIPE (STRL-SER's recipe, label smoothing 0.1 + mixup 0.2)
#                on RAVDESS / EMO-DB 6:2:2, 3 seeds, 150 epochs, best on validation: does it carry over to the other
#                model? (compare: sta_ravdess_input 2.0 s, sta_emodb_150ep_2s, the same splits and schedule)
#   sta_recipe_ravdess_speaker, sta_recipe_emodb_speaker  the same under the speaker protocol (compare:
#                sta_ravdess_speaker, sta_emodb_speaker_2s)
#   speaker_norm_baseline  the linear baseline with speaker normalisation (data.speaker_norm: each speaker's features
#                standardised with that speaker's statistics; unseen speakers with their own, transductive), RAVDESS and
#                EMO-DB, 80/20 (5 seeds) and every speaker fold (compare: study_baseline.sh, the same splits); seconds
#   speaker_norm_emodb, speaker_norm_ravdess  STRL-SER defaults + speaker normalisation, speaker folds, bf16, short
#                schedule (compare: strl_emodb_speaker's hsf_scopeutterance point, fp32, and strl_emodb_recipe_speaker,
#                bf16 / strl_ravdess_speaker, bf16; paired with the baseline with the same switch)
#   speaker_norm_emodb150, speaker_norm_ravdess150  the same at the paper's 150 epochs x0.95 (compare: speaker_norm_*,
#                the short schedule, and emodb_speaker150 / ravdess_speaker150, the defaults without the switch; paired
#                with the baseline with the same switch)
#   speaker_norm_recipe_emodb, speaker_norm_recipe_ravdess  STRL-SER + RECIPE + speaker normalisation, speaker folds,
#                bf16, short schedule: both levers at once (compare: strl_*_speaker_norm, strl_*_recipe_speaker; paired
#                with the baseline with the same switch)
#   speaker_norm_8020  STRL-SER + speaker normalisation on the speaker-dependent 80/20 splits (3 seeds, short schedule,
#                bf16), the defaults and + RECIPE, on EMO-DB and RAVDESS (paired with the baseline with the same switch,
#                speaker_norm_baseline's 80/20 trials)
#   sta_leaky_ravdess  LEAKY diagnostic: STA-CNN defaults, RAVDESS 6:2:2, 3 seeds, with the split drawn over 2.0 s
#                segments instead of utterances (data.split_unit=segment: sibling segments of one recording in
#                training and test), the paper's "random split" read literally (compare: sta_ravdess_input 2.0 s)
#   sta_curve_ravdess  STA-CNN defaults, RAVDESS 6:2:2, 3 seeds, 150 epochs, best on validation, with the held-out
#                test set also scored after every epoch (sermodels.diagnostics.ReportedSetCurve): the LEAKY reading
#                "best epoch picked on the test set" beside the reported one (compare: sta_ravdess_input 2.0 s)
#   sta_curve_emodb  the same on EMO-DB 6:2:2 (compare: sta_emodb_150ep_2s)
#   sta_masking  STA-CNN defaults + SpecAugment-style masking (2 feature bands of fewer than 8 of the 117 fused
#                features, 2 frame spans of fewer than 20 frames = 0.2 s, training only), 6:2:2, 3 seeds, 150 epochs, best on validation:
#                EMO-DB with and without per-input mean normalisation of the front-end features (instance_norm=mean),
#                RAVDESS without it (on EMO-DB it cost 10.5 validation UA points; not spent on RAVDESS's 4x longer runs)
#                (compare: sta_emodb_150ep_2s, sta_ravdess_622_curve, the same splits and schedule)
#   sta_masking_recipe  the same masking + RECIPE, EMO-DB and RAVDESS 6:2:2 (compare: sta_masking, sta_recipe_*)
#   sta_masking_emodb_speaker, sta_masking_ravdess_speaker, sta_masking_recipe_emodb_speaker,
#   sta_masking_recipe_ravdess_speaker  masking (+ RECIPE) under the speaker protocol (compare: sta_emodb_speaker_2s,
#                sta_ravdess_speaker, sta_emodb_speaker_recipe)
#   averaging_622  opt-in EMA of the weights (model.init_args.ema_half_life=1: half-life one epoch) x opt-in dropout 0.2
#                on the 1582 functionals (net hsf_dropout), on top of RECIPE, STRL-SER, EMO-DB and RAVDESS 6:2:2, 3 seeds,
#                short schedule, bf16: chosen by the mean validation UA over both corpora (compare: the grid's own
#                ema 0 / dropout 0 point, RECIPE alone on the same splits)
#   hsf_dropout_final  the switch averaging_622 chose (functionals dropout 0.2, no EMA: mean validation UA over both
#                corpora 78.30 against the recipe alone's 77.58) + RECIPE on the four reported settings, short schedule,
#                bf16: EMO-DB and RAVDESS 80/20 (3 seeds) and speaker folds (compare: final_emodb, final_ravdess,
#                final_ravdess_speaker, the same splits and schedule)
#   ensemble_emodb_speaker, ensemble_ravdess_speaker  STRL-SER + RECIPE, speaker folds, short schedule, bf16, three
#                training seeds per fold (--fold-seeds 0 1 2): each seed's own reading, and the three averaged per
#                utterance (ser-experiment's seed ensemble; nothing selected) (compare: final_emodb / final_ravdess_speaker)
#   ensemble_emodb_8020, ensemble_ravdess_8020  the same on the 80/20 splits: 3 splits (--seeds 0 1 2) x 3
#                initialisation seeds (--init-seeds 0 1 2), each seed's reading and the ensemble (compare: final_emodb,
#                final_ravdess, the same splits and schedule)
#   speed_622    opt-in speed perturbation of the training audio (data.speed_perturb=[0.9,1.1]: each training utterance
#                also at 0.9x and 1.1x speed, the 3-way perturbation of Kaldi/SpeechBrain recipes) on top of RECIPE +
#                functionals dropout 0.2 (hsf_dropout_final's configuration), STRL-SER, EMO-DB and RAVDESS 6:2:2, 3 seeds,
#                short schedule, bf16: kept if it raises the mean validation UA over both corpora (compare:
#                averaging_622's ema 0 / dropout 0.2 point, the same splits)
#   speed_steps_622  the control for speed_622: the same configuration without the copies, trained for as many
#                optimiser steps (90 epochs, lr x0.9655 per epoch = x0.9 per 3 epochs: the same decay per step), so
#                the augmentation is told apart from the 3x longer training it brings
#   speed_norecipe_622  the ablation speed_622 left out: functionals dropout 0.2 + speed perturbation *without* the
#                RECIPE (label smoothing + mixup were chosen before the copies existed; augmentations can overlap),
#                EMO-DB and RAVDESS 6:2:2, 3 seeds, short schedule, bf16; the recipe stays if speed_622's mean
#                validation UA over both corpora is higher (compare: speed_622, the same splits)
#   speed_final  that configuration on the four reported settings: EMO-DB and RAVDESS 80/20 (3 seeds) and speaker
#                folds (compare: hsf_dropout_final, the same splits and schedule)
#   speed_speaker_norm  speed_final's configuration (RECIPE + functionals dropout 0.2 + speed perturbation) + speaker
#                normalisation, speaker folds, both corpora, short schedule, bf16: does the best configuration keep a margin
#                over the baseline when both read the test speaker's statistics? (compare: speaker_norm_recipe_* and
#                speed_final's speaker rows, the same folds; paired with the baseline with the same copies and speaker
#                normalisation, speed_speaker_norm_baseline)
#   speed_speaker_norm_baseline  the linear baseline with the same copies and speaker normalisation, speaker folds, both
#                corpora (the baseline side of speed_speaker_norm with both switches)
#   speed_emodb150, speed_ravdess150  speed_final's configuration at the paper's 150 epochs x0.95, one corpus, 80/20
#                (EMO-DB 5 seeds, RAVDESS 3) and speaker folds (compare: speed_final; on EMO-DB 80/20 the defaults scored 2.2 UA higher at
#                150 epochs than at 30, the recipe 1.3 lower)
#   emodb8020_seeds5  the three EMO-DB 80/20 rows at the paper's 150 epochs x0.95 (schedule150's defaults,
#                final_emodb150's recipe, speed_emodb150's best configuration) with 5 seeds, the baseline's count,
#                into the same folders: seeds 0-2 repeat the 3-seed runs, 3-4 are new (80/20 only, no speaker folds);
#                since this step, those three steps run the 5 seeds themselves
#   sta_speed_emodb, sta_speed_ravdess  STA-CNN's then-best configuration (defaults + RECIPE, chosen on 6:2:2 validation) +
#                speed perturbation 0.9/1.1 of the training audio, 6:2:2, 3 seeds, 150 epochs, best on validation (compare:
#                sta_recipe_emodb / sta_recipe_ravdess, the same splits and schedule): does a CNN that learns from
#                spectra of a few hundred utterances gain more from 3x the audio than STRL-SER's functionals did?
#   sta_speed_emodb_speaker, sta_speed_ravdess_speaker  the same under the speaker protocol (compare: sta_recipe_*_speaker)
#   sta_overlap_emodb, sta_overlap_ravdess  STA-CNN defaults + RECIPE with overlapping segments (2.0 s, hop 1.0 s: a gap
#                the paper leaves, the reading STRL-SER's `readings` step took), 6:2:2, 3 seeds, 150 epochs, best on
#                validation (compare: sta_recipe_emodb / sta_recipe_ravdess, the same splits and schedule): about 1.6x the
#                training segments (shifted views of each utterance) and test views; chosen or not by the two-corpus rule
#   sta_speed_overlap_emodb, sta_speed_overlap_ravdess  the same overlap on top of the then-best configuration (RECIPE +
#                speed perturbation 0.9/1.1), 6:2:2, 3 seeds, 150 epochs, best on validation (compare: sta_speed_emodb /
#                sta_speed_ravdess, the same splits); run once sta_overlap_* raised validation UA on both corpora
#   sta_speed_overlap_emodb_speaker, sta_speed_overlap_ravdess_speaker  the same under the speaker protocol (compare:
#                sta_speed_*_speaker, the same folds): run once the two-corpus rule made it STA-CNN's best configuration
#   sta_bf16_emodb  STA-CNN defaults, EMO-DB 6:2:2, 3 seeds, 150 epochs, best on validation, fp32 and bf16-mixed
#                side by side on the same splits and seeds: may STA-CNN's CPU studies run in bf16, as STRL-SER's do?
#   sta_arch_emodb  two architecture gaps the paper leaves open, on top of STA-CNN's then-best configuration (defaults +
#                RECIPE), EMO-DB 6:2:2, 3 seeds, 150 epochs, best on validation (compare: sta_recipe_emodb, the same
#                splits): BatchNorm after each convolution (the paper names only conv, ReLU and pooling), with the GFE
#                outputs summed (Eq. 6) or averaged over positions; and averaged without BatchNorm
#   sta_arch_ravdess  the one sta_arch_emodb chose on EMO-DB validation UA (BatchNorm, GFE averaged), RAVDESS 6:2:2
#                (compare: sta_recipe_ravdess; with it the two-corpus rule can weigh it against the recipe)
#   sta_arch_emodb_speaker, sta_arch_ravdess_speaker  the same (BatchNorm, GFE averaged, + RECIPE) under the speaker
#                protocol (compare: sta_recipe_*_speaker, the same folds)
#   speed_baseline  the linear baseline with the same speed perturbation, 80/20 (5 seeds) and speaker folds, both
#                corpora (does the augmentation favour the deep model, or any learner on these features?)
#   final_*      RECIPE (extra ser arguments, chosen on validation by the recipe step; every step named for the
#                recipe refuses to run without it) on EMO-DB 80/20 and
#                speaker folds, RAVDESS 80/20 and speaker folds
set -euo pipefail
# JOBS trials at once (default 2); THREADS per trial (default: cores / JOBS; set 1 to run two chains side by side)
OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}; THREADS=(${THREADS:+--threads "$THREADS"}); STEPS=${STEPS:?set STEPS, e.g. "bf16 recipe"}
# EMO-DB 80/20 at the paper's schedule runs the baseline's 5 seeds (3 until emodb8020_seeds5); the protocols
# reported() runs (emodb8020_seeds5 narrows them for one call)
EMODB150_SEEDS=(--seeds 0 1 2 3 4); RAVDESS150_SEEDS=(--seeds 0 1 2 3 4); PROTOCOLS="8020 speaker"  # the baseline's 5 seeds
SHORT=(--trainer.max_epochs 30 --model.init_args.scheduler.init_args.gamma 0.9)
BF16=(--trainer.precision bf16-mixed)
SN=(--data.speaker_norm true)
MASKS=(--model.init_args.net.init_args.freq_masks 2 --model.init_args.net.init_args.time_masks 2
  --model.init_args.net.init_args.frontend sermodels.frontends.SpectralFrontEnd)
NET=model.init_args.net.init_args
read -r -a RECIPE <<< "${RECIPE:-}"
# The corpus variables (RAVDESS, EMODB) name a corpus folder, or a feature pack (`ser-pack`, *.npz) made with the
# step's feature settings: a GPU box runs the study from packs, without the audio (a pack with other settings is refused).
src() { case $1 in *.npz) echo --data.pack ;; *) echo --data.root ;; esac; }
var() { tr a-z A-Z <<< "$1"; }  # emodb -> EMODB, the corpus variable (bash 3 has no ${x^^})
name() { case $1 in emodb) echo EMO-DB ;; *) var "$1" ;; esac; }  # the corpus as titles spell it
sta() { local v; v=$(var "$1"); echo -c configs/trainer.yaml -c configs/model/sta_cnn.yaml -c "configs/data/$1.yaml" "$(src "${!v:-}")"; }
strl() { local v; v=$(var "$1"); echo -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c "configs/data/$1.yaml" "$(src "${!v:-}")"; }  # EMO-DB, RAVDESS: no experiment file
# STRL-SER + RECIPE + functionals dropout 0.2 (+ the given ser-experiment options) on the four reported settings,
# 80/20 (3 seeds) and every speaker fold: reported "CORPORA" SCHEDULE FOLDER_INFIX TITLE [OPTIONS...]
# (CORPORA: "emodb ravdess" or one of them; SCHEDULE: short = 30 epochs x0.9, paper = the paper's 150 epochs x0.95,
# its folders suffixed _150ep)
reported() {
  local corpora=$1 sched=$2 infix=$3 what=$4 corpus protocol v schedule=("${SHORT[@]}") suffix=""
  case $2 in short) ;; paper) schedule=(); suffix=_150ep; what="$what, the paper's 150 epochs x0.95" ;;
    *) echo "reported: schedule must be short or paper, not '$2'" >&2; exit 2 ;; esac
  shift 4
  for corpus in $corpora; do
    v=$(var "$corpus")
    for protocol in $PROTOCOLS; do
      local trials=(--seeds 0 1 2); [ "$corpus-$sched" = emodb-paper ] && trials=("${EMODB150_SEEDS[@]}")
      [ "$protocol" = speaker ] && trials=(--folds)
      ser-experiment --out "$OUT/strl_${corpus}_${infix}_${protocol}${suffix}" "${trials[@]}" --jobs "$JOBS" "${THREADS[@]}" "$@" \
        --title "STRL-SER + recipe (${RECIPE[*]}) + $what, $corpus $protocol" -- \
        $(strl "$corpus") "${!v:?}" ${schedule[@]+"${schedule[@]}"} "${BF16[@]}" "${RECIPE[@]}" --$NET.hsf_dropout 0.2
    done
  done
}

# STRL-SER on EMO-DB 80/20 at the paper's 150 epochs x0.95, bf16, EMODB150_SEEDS: the defaults (schedule150) and
# + RECIPE (final_emodb150)
emodb8020_defaults150() {
  ser-experiment --out "$OUT/strl_emodb_8020_150ep_bf16" "${EMODB150_SEEDS[@]}" --jobs "$JOBS" "${THREADS[@]}" \
    --title "STRL-SER defaults, EMO-DB 80/20, bf16, the paper's 150 epochs x0.95" -- $(strl emodb) "${EMODB:?}" "${BF16[@]}"
}
emodb8020_recipe150() {
  ser-experiment --out "$OUT/strl_emodb_recipe_8020_150ep" "${EMODB150_SEEDS[@]}" --jobs "$JOBS" "${THREADS[@]}" \
    --title "STRL-SER + recipe (${RECIPE[*]}), EMO-DB 80/20, the paper's 150 epochs x0.95" -- \
    $(strl emodb) "${EMODB:?}" "${BF16[@]}" "${RECIPE[@]}"
}

for step in $STEPS; do
  case $step in emodb8020_seeds5|final_*|sta_recipe_*|speaker_norm_recipe_*|sta_masking_recipe*|averag*|ensemble_*|hsf_dropout_*|speaker_norm_8020|speed_622|speed_steps_622|speed_final|speed_speaker_norm|speed_*150|sta_speed_*|sta_arch_*|sta_overlap_*)  # these folders are named for the recipe: refuse to fill them with the defaults
    [ ${#RECIPE[@]} -gt 0 ] || { echo "step $step needs RECIPE (the extra ser arguments), e.g." \
      "RECIPE=\"--model.init_args.label_smoothing 0.1 --model.init_args.mixup_alpha 0.2\"" >&2; exit 2; } ;;
  esac
  # STRL-SER's speed copies re-read the audio (openSMILE features of the copies): its packs hold unperturbed features
  # only. STA-CNN's sta_speed_* steps run from a pack too: its copies are rebuilt from the packed waveform segments.
  case $step in speed_*|emodb8020_seeds5)
    case $step in *emodb*) used=EMODB ;; *ravdess*) used=RAVDESS ;; *) used="EMODB RAVDESS" ;; esac
    for v in $used; do
      case ${!v:-} in *.npz) echo "step $step needs the corpus audio (speed-perturbed copies are extracted from it), but" \
        "$v is a feature pack; set $v to the corpus folder" >&2; exit 2 ;; esac
    done ;;
  esac
  case $step in
  bf16)
    ser-experiment --out "$OUT/strl_emodb_622_bf16" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set 'data.ratios=[0.6,0.2,0.2]' \
      --title "STRL-SER defaults, EMO-DB 6:2:2, bf16-mixed" -- $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}" ;;
  sta_input)
    ser-experiment --out "$OUT/sta_emodb_input" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set data.segment_length=1.0,2.0,3.0 \
      --title "STA-CNN, EMO-DB 6:2:2, segment length (best on validation)" -- \
      $(sta emodb) "${EMODB:?}"
    ser-experiment --out "$OUT/sta_emodb_crop" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set data.segment_mode=crop \
      --set data.segment_length=3.0 --title "STA-CNN, EMO-DB 6:2:2, whole utterance cropped/padded to 3 s" -- \
      $(sta emodb) "${EMODB:?}" ;;
  recipe)
    for sw in "model.init_args.mixup_alpha=0.2" "model.init_args.label_smoothing=0.1" \
              "model.init_args.optimizer.init_args.weight_decay=0.0001" "$NET.dropout=0.5"; do
      name=${sw%%=*}; name=${name##*.}
      ser-experiment --out "$OUT/strl_emodb_622_recipe_$name" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.ratios=[0.6,0.2,0.2]' --set "$sw" \
        --title "STRL-SER, EMO-DB 6:2:2, bf16, opt-in $sw" -- $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}"
    done ;;
  readings)
    ser-experiment --out "$OUT/strl_emodb_622_overlap" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set 'data.ratios=[0.6,0.2,0.2]' \
      --set data.segment_hop=0.7 --title "STRL-SER, EMO-DB 6:2:2, bf16, overlapping segments (1.4 s, hop 0.7 s)" -- \
      $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}"
    ser-experiment --out "$OUT/strl_emodb_622_lld_only" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set 'data.ratios=[0.6,0.2,0.2]' \
      --set "$NET.use_hsf=false" --set 'data.inputs=[lld]' --title "STRL-SER, EMO-DB 6:2:2, bf16, LLDs only" -- \
      $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}" ;;
  schedule150) emodb8020_defaults150 ;;
  sta_epochs)
    seg=$(python -c 'import json,sys; g=json.load(open(sys.argv[1]))["groups"]
best=max(g, key=lambda x: x["val_ua"]["mean"]); print(best["overrides"]["data.segment_length"])' "$OUT/sta_emodb_input/aggregate.json")
    echo "segment length chosen on validation UA: $seg s"
    ser-experiment --out "$OUT/sta_emodb_150ep" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set data.segment_length="$seg" \
      --set trainer.max_epochs=150 --title "STA-CNN, EMO-DB 6:2:2, $seg s segments, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" ;;
  ravdess150)
    ser-experiment --out "$OUT/strl_ravdess_8020_150ep_bf16" "${RAVDESS150_SEEDS[@]}" --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults, RAVDESS 80/20, bf16, the paper's 150 epochs x0.95" -- $(strl ravdess) "${RAVDESS:?}" "${BF16[@]}" ;;
  ravdess_speaker)
    ser-experiment --out "$OUT/strl_ravdess_speaker" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults, RAVDESS speaker folds, bf16" -- $(strl ravdess) "${RAVDESS:?}" "${SHORT[@]}" "${BF16[@]}" ;;
  recipe_ravdess)
    ser-experiment --out "$OUT/strl_ravdess_622_recipe" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set 'data.ratios=[0.6,0.2,0.2]' \
      --set model.init_args.label_smoothing=0.0,0.1 --set model.init_args.mixup_alpha=0.0,0.2 \
      --title "STRL-SER, RAVDESS 6:2:2, bf16, label smoothing x mixup (chosen on validation UA)" -- \
      $(strl ravdess) "${RAVDESS:?}" "${SHORT[@]}" "${BF16[@]}" ;;
  sta_ravdess)
    ser-experiment --out "$OUT/sta_ravdess_622" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set data.segment_length=1.0 \
      --title "STA-CNN, 1.0 s segments (chosen on EMO-DB alone), 150 epochs, RAVDESS 6:2:2" -- $(sta ravdess) "${RAVDESS:?}" ;;
  sta_input_ravdess)
    ser-experiment --out "$OUT/sta_ravdess_input" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set data.segment_length=2.0,3.0 \
      --title "STA-CNN, RAVDESS 6:2:2, 150 epochs, segment length (best on validation)" -- $(sta ravdess) "${RAVDESS:?}" ;;
  sta_emodb_2s150)
    ser-experiment --out "$OUT/sta_emodb_150ep_2s" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set data.segment_length=2.0 --set trainer.max_epochs=150 \
      --title "STA-CNN, EMO-DB 6:2:2, 2.0 s segments, 150 epochs (best on validation)" -- $(sta emodb) "${EMODB:?}" ;;
  sta_emodb_speaker_2s)
    ser-experiment --out "$OUT/sta_emodb_speaker_2s" --folds --jobs "$JOBS" "${THREADS[@]}" --set data.segment_length=2.0 \
      --title "STA-CNN, 2.0 s segments, 150 epochs, EMO-DB speaker folds" -- $(sta emodb) "${EMODB:?}" ;;
  sta_emodb_speaker)
    ser-experiment --out "$OUT/sta_emodb_speaker" --folds --jobs "$JOBS" "${THREADS[@]}" --set data.segment_length=1.0 \
      --title "STA-CNN, 1.0 s segments, 150 epochs, EMO-DB speaker folds" -- $(sta emodb) "${EMODB:?}" ;;
  sta_ravdess_speaker)
    ser-experiment --out "$OUT/sta_ravdess_speaker" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults (2.0 s segments, 150 epochs), RAVDESS speaker folds" -- $(sta ravdess) "${RAVDESS:?}" ;;
  emodb_speaker150)
    ser-experiment --out "$OUT/strl_emodb_speaker_150ep" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults, EMO-DB speaker folds, bf16, the paper's 150 epochs x0.95" -- \
      $(strl emodb) "${EMODB:?}" "${BF16[@]}" ;;
  ravdess_speaker150)
    ser-experiment --out "$OUT/strl_ravdess_speaker_150ep" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults, RAVDESS speaker folds, bf16, the paper's 150 epochs x0.95" -- \
      $(strl ravdess) "${RAVDESS:?}" "${BF16[@]}" ;;
  final_emodb)
    ser-experiment --out "$OUT/strl_emodb_recipe_8020" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), EMO-DB 80/20" -- $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}"
    ser-experiment --out "$OUT/strl_emodb_recipe_speaker" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), EMO-DB speaker folds" -- $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" ;;
  final_ravdess)
    ser-experiment --out "$OUT/strl_ravdess_recipe_8020" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), RAVDESS 80/20" -- $(strl ravdess) "${RAVDESS:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" ;;
  final_ravdess_speaker)
    ser-experiment --out "$OUT/strl_ravdess_recipe_speaker" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), RAVDESS speaker folds" -- $(strl ravdess) "${RAVDESS:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" ;;
  final_ravdess150)
    ser-experiment --out "$OUT/strl_ravdess_recipe_8020_150ep" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), RAVDESS 80/20, the paper's 150 epochs x0.95" -- \
      $(strl ravdess) "${RAVDESS:?}" "${BF16[@]}" "${RECIPE[@]}" ;;
  final_emodb150) emodb8020_recipe150 ;;
  final_emodb_speaker150|final_ravdess_speaker150)  # the recipe across speakers at the paper's schedule (compare:
    c=${step#final_}; c=${c%_speaker150}; v=$(var "$c")  # strl_*_speaker_150ep, the defaults on the same folds and schedule)
    name=$([ "$c" = emodb ] && echo EMO-DB || echo RAVDESS)
    ser-experiment --out "$OUT/strl_${c}_recipe_speaker_150ep" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), $name speaker folds, the paper's 150 epochs x0.95" -- \
      $(strl "$c") "${!v:?}" "${BF16[@]}" "${RECIPE[@]}" ;;
  sta_recipe_ravdess)
    ser-experiment --out "$OUT/sta_ravdess_622_recipe" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), RAVDESS 6:2:2, 150 epochs (best on validation)" -- \
      $(sta ravdess) "${RAVDESS:?}" "${RECIPE[@]}" ;;
  sta_recipe_emodb)
    ser-experiment --out "$OUT/sta_emodb_622_recipe" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), EMO-DB 6:2:2, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" "${RECIPE[@]}" ;;
  sta_recipe_ravdess_speaker)
    ser-experiment --out "$OUT/sta_ravdess_speaker_recipe" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), RAVDESS speaker folds" -- $(sta ravdess) "${RAVDESS:?}" "${RECIPE[@]}" ;;
  sta_recipe_emodb_speaker)
    ser-experiment --out "$OUT/sta_emodb_speaker_recipe" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), EMO-DB speaker folds" -- $(sta emodb) "${EMODB:?}" "${RECIPE[@]}" ;;
  speaker_norm_baseline)
    for corpus in emodb ravdess; do
      root=$([ $corpus = ravdess ] && echo "${RAVDESS:?}" || echo "${EMODB:?}")
      ser-experiment --out "$OUT/baseline_${corpus}_speaker_norm" --seeds 0 1 2 3 4 --folds --jobs "$JOBS" "${THREADS[@]}" \
        --title "Linear baseline + speaker normalisation, $corpus, 80/20 and speaker folds" -- \
        -c configs/trainer.yaml -c configs/model/baseline.yaml -c "configs/data/$corpus.yaml" $(src "$root") "$root" "${SN[@]}"
    done ;;
  speaker_norm_emodb)
    ser-experiment --out "$OUT/strl_emodb_speaker_norm" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults + speaker normalisation, EMO-DB speaker folds, bf16" -- \
      $(strl emodb) "${EMODB:?}" "${SHORT[@]}" "${BF16[@]}" "${SN[@]}" ;;
  speaker_norm_emodb150|speaker_norm_ravdess150)
    corpus=${step#speaker_norm_}; corpus=${corpus%150}; v=$(var "$corpus")
    ser-experiment --out "$OUT/strl_${corpus}_speaker_norm_150ep" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults + speaker normalisation, $(name "$corpus") speaker folds, bf16, the paper's 150 epochs x0.95" -- \
      $(strl "$corpus") "${!v:?}" "${BF16[@]}" "${SN[@]}" ;;
  speaker_norm_ravdess)
    ser-experiment --out "$OUT/strl_ravdess_speaker_norm" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER defaults + speaker normalisation, RAVDESS speaker folds, bf16" -- \
      $(strl ravdess) "${RAVDESS:?}" "${SHORT[@]}" "${BF16[@]}" "${SN[@]}" ;;
  sta_leaky_ravdess)
    ser-experiment --out "$OUT/sta_ravdess_leaky_segment_split" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set data.split_unit=segment --title "LEAKY: STA-CNN defaults, RAVDESS 6:2:2 drawn over segments" -- \
      $(sta ravdess) "${RAVDESS:?}" ;;
  sta_curve_ravdess|sta_curve_emodb)
    corpus=${step#sta_curve_}; root=$([ "$corpus" = ravdess ] && echo "${RAVDESS:?}" || echo "${EMODB:?}")
    ser-experiment --out "$OUT/sta_${corpus}_622_curve" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults, $([ "$corpus" = ravdess ] && echo RAVDESS || echo EMO-DB) 6:2:2, test set scored every epoch (LEAKY reading beside)" -- \
      $(sta "$corpus") "$root" --trainer.callbacks+=sermodels.diagnostics.ReportedSetCurve ;;
  sta_masking)
    ser-experiment --out "$OUT/sta_emodb_622_masking" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set model.init_args.net.init_args.frontend.init_args.instance_norm=none,mean \
      --title "STA-CNN defaults + SpecAugment-style masking, emodb 6:2:2, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" "${MASKS[@]}"
    ser-experiment --out "$OUT/sta_ravdess_622_masking" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + SpecAugment-style masking, ravdess 6:2:2, 150 epochs (best on validation)" -- \
      $(sta ravdess) "${RAVDESS:?}" "${MASKS[@]}" ;;
  sta_masking_recipe)
    for corpus in emodb ravdess; do
      root=$([ $corpus = ravdess ] && echo "${RAVDESS:?}" || echo "${EMODB:?}")
      ser-experiment --out "$OUT/sta_${corpus}_622_masking_recipe" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --title "STA-CNN defaults + SpecAugment-style masking + recipe (${RECIPE[*]}), $corpus 6:2:2, 150 epochs (best on validation)" -- \
        $(sta $corpus) "$root" "${MASKS[@]}" "${RECIPE[@]}"
    done ;;
  sta_masking_emodb_speaker|sta_masking_ravdess_speaker|sta_masking_recipe_emodb_speaker|sta_masking_recipe_ravdess_speaker)
    corpus=${step%_speaker}; corpus=${corpus##*_}; root=$([ "$corpus" = ravdess ] && echo "${RAVDESS:?}" || echo "${EMODB:?}")
    case $step in *recipe*) EXTRA=("${RECIPE[@]}"); name=masking_recipe; what=" + recipe (${RECIPE[*]})" ;; *) EXTRA=(); name=masking; what="" ;; esac
    ser-experiment --out "$OUT/sta_${corpus}_speaker_${name}" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STA-CNN defaults + SpecAugment-style masking$what, $corpus speaker folds" -- \
      $(sta "$corpus") "$root" "${MASKS[@]}" "${EXTRA[@]}" ;;
  speaker_norm_recipe_emodb|speaker_norm_recipe_ravdess)
    corpus=${step##*_}; root=$([ "$corpus" = ravdess ] && echo "${RAVDESS:?}" || echo "${EMODB:?}")
    ser-experiment --out "$OUT/strl_${corpus}_speaker_norm_recipe" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}) + speaker normalisation, $corpus speaker folds, bf16" -- \
      $(strl "$corpus") "$root" "${SHORT[@]}" "${BF16[@]}" "${SN[@]}" "${RECIPE[@]}" ;;
  speaker_norm_8020)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_speaker_norm_8020" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --title "STRL-SER defaults + speaker normalisation, $corpus 80/20, bf16" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${SN[@]}"
      ser-experiment --out "$OUT/strl_${corpus}_speaker_norm_recipe_8020" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --title "STRL-SER + recipe (${RECIPE[*]}) + speaker normalisation, $corpus 80/20, bf16" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${SN[@]}" "${RECIPE[@]}"
    done ;;
  ensemble_emodb_speaker|ensemble_ravdess_speaker|ensemble_emodb_8020|ensemble_ravdess_8020)
    corpus=${step#ensemble_}; tag=${corpus#*_}; corpus=${corpus%_*}; v=$(var "$corpus")
    case $tag in
      speaker) trials=(--folds --fold-seeds 0 1 2); what="speaker folds, bf16, 3 training seeds per fold" ;;
      *) trials=(--seeds 0 1 2 --init-seeds 0 1 2); what="80/20, bf16, 3 initialisation seeds per split" ;;
    esac
    ser-experiment --out "$OUT/strl_${corpus}_recipe_${tag}_seeds3" "${trials[@]}" --jobs "$JOBS" "${THREADS[@]}" \
      --title "STRL-SER + recipe (${RECIPE[*]}), $corpus $what (and their ensemble)" -- \
      $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" ;;
  averaging_622)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_622_averaging" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.ratios=[0.6,0.2,0.2]' --set model.init_args.ema_half_life=0.0,1.0 --set "$NET.hsf_dropout=0.0,0.2" \
        --title "STRL-SER + recipe (${RECIPE[*]}), $corpus 6:2:2, bf16: weight EMA x functionals dropout (chosen on validation UA)" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}"
    done ;;
  hsf_dropout_final)
    reported "emodb ravdess" short recipe_hsf_dropout "functionals dropout 0.2" ;;
  speed_622)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_622_speed" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.ratios=[0.6,0.2,0.2]' --set 'data.speed_perturb=[0.9,1.1]' \
        --title "STRL-SER + recipe (${RECIPE[*]}) + functionals dropout 0.2 + speed perturbation 0.9/1.1, $corpus 6:2:2, bf16" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" --$NET.hsf_dropout 0.2
    done ;;
  speed_steps_622)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_622_steps90" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.ratios=[0.6,0.2,0.2]' \
        --title "STRL-SER + recipe (${RECIPE[*]}) + functionals dropout 0.2, $corpus 6:2:2, bf16, 90 epochs x0.9655 (speed_622's optimiser steps and decay, without the copies)" -- \
        $(strl "$corpus") "${!v:?}" "${BF16[@]}" "${RECIPE[@]}" --$NET.hsf_dropout 0.2 \
        --trainer.max_epochs 90 --model.init_args.scheduler.init_args.gamma 0.9655
    done ;;
  speed_norecipe_622)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_622_speed_norecipe" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.ratios=[0.6,0.2,0.2]' --set 'data.speed_perturb=[0.9,1.1]' \
        --title "STRL-SER + functionals dropout 0.2 + speed perturbation 0.9/1.1, without the recipe, $corpus 6:2:2, bf16" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" --$NET.hsf_dropout 0.2
    done ;;
  speed_speaker_norm)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/strl_${corpus}_recipe_speed_speaker_norm" --folds --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.speed_perturb=[0.9,1.1]' \
        --title "STRL-SER + recipe (${RECIPE[*]}) + functionals dropout 0.2 + speed perturbation 0.9/1.1 + speaker normalisation, $corpus speaker folds, bf16" -- \
        $(strl "$corpus") "${!v:?}" "${SHORT[@]}" "${BF16[@]}" "${RECIPE[@]}" --$NET.hsf_dropout 0.2 "${SN[@]}"
    done ;;
  speed_speaker_norm_baseline)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/baseline_${corpus}_speed_speaker_norm" --folds --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.speed_perturb=[0.9,1.1]' \
        --title "Linear baseline + speed perturbation 0.9/1.1 + speaker normalisation, $corpus speaker folds" -- \
        -c configs/trainer.yaml -c configs/model/baseline.yaml -c "configs/data/$corpus.yaml" "$(src "${!v:-}")" "${!v:?}" "${SN[@]}"
    done ;;
  speed_final)
    reported "emodb ravdess" short recipe_speed "functionals dropout 0.2 + speed perturbation 0.9/1.1" --set 'data.speed_perturb=[0.9,1.1]' ;;
  speed_emodb150|speed_ravdess150)
    c=${step#speed_}; reported "${c%150}" paper recipe_speed "functionals dropout 0.2 + speed perturbation 0.9/1.1" --set 'data.speed_perturb=[0.9,1.1]' ;;
  emodb8020_seeds5)  # the best configuration first (the slowest and the one the targets table reads), then the rest
    PROTOCOLS=8020 reported emodb paper recipe_speed "functionals dropout 0.2 + speed perturbation 0.9/1.1" \
      --set 'data.speed_perturb=[0.9,1.1]'  # the assignment holds for this call only
    emodb8020_defaults150; emodb8020_recipe150 ;;
  sta_speed_emodb|sta_speed_ravdess|sta_speed_emodb_speaker|sta_speed_ravdess_speaker)
    corpus=${step#sta_speed_}; corpus=${corpus%_speaker}; v=$(var "$corpus")
    case $step in *_speaker) trials=(--folds); folder=sta_${corpus}_speaker_recipe_speed; split="speaker folds" ;;
      *) trials=(--seeds 0 1 2); folder=sta_${corpus}_622_recipe_speed; split="6:2:2" ;; esac
    ser-experiment --out "$OUT/$folder" "${trials[@]}" --jobs "$JOBS" "${THREADS[@]}" --set 'data.speed_perturb=[0.9,1.1]' \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}) + speed perturbation 0.9/1.1, $(name "$corpus") $split, 150 epochs (best on validation)" -- \
      $(sta "$corpus") "${!v:?}" "${RECIPE[@]}" ;;
  sta_overlap_emodb|sta_overlap_ravdess)
    corpus=${step#sta_overlap_}; v=$(var "$corpus")
    ser-experiment --out "$OUT/sta_${corpus}_622_recipe_overlap" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" --set data.segment_hop=1.0 \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), overlapping segments (2.0 s, hop 1.0 s), $(name "$corpus") 6:2:2, 150 epochs (best on validation)" -- \
      $(sta "$corpus") "${!v:?}" "${RECIPE[@]}" ;;
  sta_speed_overlap_emodb|sta_speed_overlap_ravdess|sta_speed_overlap_emodb_speaker|sta_speed_overlap_ravdess_speaker)
    corpus=${step#sta_speed_overlap_}; corpus=${corpus%_speaker}; v=$(var "$corpus")
    case $step in *_speaker) trials=(--folds); folder=sta_${corpus}_speaker_recipe_speed_overlap; split="speaker folds" ;;
      *) trials=(--seeds 0 1 2); folder=sta_${corpus}_622_recipe_speed_overlap; split="6:2:2" ;; esac
    ser-experiment --out "$OUT/$folder" "${trials[@]}" --jobs "$JOBS" "${THREADS[@]}" \
      --set 'data.speed_perturb=[0.9,1.1]' --set data.segment_hop=1.0 \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}) + speed perturbation 0.9/1.1, overlapping segments (2.0 s, hop 1.0 s), $(name "$corpus") $split, 150 epochs (best on validation)" -- \
      $(sta "$corpus") "${!v:?}" "${RECIPE[@]}" ;;
  sta_bf16_emodb)
    ser-experiment --out "$OUT/sta_emodb_622_precision" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set trainer.precision=32-true,bf16-mixed \
      --title "STA-CNN defaults, EMO-DB 6:2:2, fp32 against bf16-mixed on the same splits and seeds, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" ;;
  sta_arch_emodb)
    ser-experiment --out "$OUT/sta_emodb_622_recipe_bn" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set "$NET.batch_norm=true" --set "$NET.gfe_pooling=sum,mean" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}) + BatchNorm after each convolution, EMO-DB 6:2:2, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" "${RECIPE[@]}"
    ser-experiment --out "$OUT/sta_emodb_622_recipe_gfe_mean" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set "$NET.gfe_pooling=mean" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}), GFE outputs averaged over positions, EMO-DB 6:2:2, 150 epochs (best on validation)" -- \
      $(sta emodb) "${EMODB:?}" "${RECIPE[@]}" ;;
  sta_arch_ravdess)
    ser-experiment --out "$OUT/sta_ravdess_622_recipe_bn_mean" --seeds 0 1 2 --jobs "$JOBS" "${THREADS[@]}" \
      --set "$NET.batch_norm=true" --set "$NET.gfe_pooling=mean" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}) + BatchNorm after each convolution + GFE outputs averaged (chosen on EMO-DB validation), RAVDESS 6:2:2, 150 epochs (best on validation)" -- \
      $(sta ravdess) "${RAVDESS:?}" "${RECIPE[@]}" ;;
  sta_arch_emodb_speaker|sta_arch_ravdess_speaker)
    corpus=${step#sta_arch_}; corpus=${corpus%_speaker}; v=$(var "$corpus")
    ser-experiment --out "$OUT/sta_${corpus}_speaker_recipe_bn_mean" --folds --jobs "$JOBS" "${THREADS[@]}" \
      --set "$NET.batch_norm=true" --set "$NET.gfe_pooling=mean" \
      --title "STA-CNN defaults + recipe (${RECIPE[*]}) + BatchNorm after each convolution + GFE outputs averaged, $(name "$corpus") speaker folds, 150 epochs (best on validation)" -- \
      $(sta "$corpus") "${!v:?}" "${RECIPE[@]}" ;;
  speed_baseline)
    for corpus in emodb ravdess; do
      v=$(var "$corpus")
      ser-experiment --out "$OUT/baseline_${corpus}_speed" --seeds 0 1 2 3 4 --folds --jobs "$JOBS" "${THREADS[@]}" \
        --set 'data.speed_perturb=[0.9,1.1]' \
        --title "Linear baseline + speed perturbation 0.9/1.1 of the training audio, $corpus, 80/20 and speaker folds" -- \
        -c configs/trainer.yaml -c configs/model/baseline.yaml -c "configs/data/$corpus.yaml" "$(src "${!v:-}")" "${!v:?}"
    done ;;
  *) echo "unknown step: $step (see the header of $0)" >&2; exit 2 ;;
  esac
done
