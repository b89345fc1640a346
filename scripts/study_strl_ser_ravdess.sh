#!/usr/bin/env bash
# STRL-SER on RAVDESS, paper protocol (80/20, test = validation, last epoch), 3 seeds, the study's short
# schedule (30 epochs, lr x0.9 per epoch): branch tokens with HSFs per segment / per utterance, and the
# LEAKY segment-level split with HSFs per utterance (can it explain the paper's 88.88?).  RAVDESS: corpus folder.
set -euo pipefail
RAVDESS=${RAVDESS:?set RAVDESS to the corpus folder}; OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}
SHORT=(--trainer.max_epochs 30 --model.init_args.scheduler.init_args.gamma 0.9)
CFG=(-c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/ravdess.yaml --data.root "$RAVDESS")
NET=model.init_args.net.init_args
ser-experiment --out "$OUT/strl_ravdess_leaky_segment_split" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=utterance --set data.split_unit=segment \
  --title "STRL-SER, RAVDESS, LEAKY segment-level 80/20 split, HSFs per utterance" -- "${CFG[@]}" "${SHORT[@]}"
ser-experiment --out "$OUT/strl_ravdess_hsf_utterance" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=utterance \
  --title "STRL-SER, RAVDESS, paper 80/20, HSFs per utterance" -- "${CFG[@]}" "${SHORT[@]}"
if [ "${WITH_SEGMENT_HSF:-0}" = 1 ]; then  # the same-schedule reference (not run in the first session)
  ser-experiment --out "$OUT/strl_ravdess_hsf_segment" --seeds 0 1 2 --jobs "$JOBS" \
    --set $NET.fusion_tokens=branches --set data.hsf_scope=segment \
    --title "STRL-SER, RAVDESS, paper 80/20, HSFs per segment" -- "${CFG[@]}" "${SHORT[@]}"
fi
