#!/usr/bin/env bash
# STRL-SER on EMO-DB, paper protocol (80/20, test = validation, last epoch), 3 seeds, short schedule
# (30 epochs with lr x0.9 per epoch: the lr ends at 4 % of its start, as 0.95^60 does), for the
# readings of the paper's gaps, plus the LEAKY segment-level-split diagnostic.  EMODB: corpus folder.
set -euo pipefail
EMODB=${EMODB:?set EMODB to the corpus folder}; OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}
SHORT=(--trainer.max_epochs 30 --model.init_args.scheduler.init_args.gamma 0.9)
CFG=(-c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/emodb.yaml --data.root "$EMODB")
NET=model.init_args.net.init_args
ser-experiment --out "$OUT/strl_emodb_hsf_utterance" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches,fused --set data.hsf_scope=utterance \
  --title "STRL-SER, EMO-DB, paper 80/20, HSFs per utterance" -- "${CFG[@]}" "${SHORT[@]}"
ser-experiment --out "$OUT/strl_emodb_hsf_segment" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=segment \
  --title "STRL-SER, EMO-DB, paper 80/20, HSFs per segment" -- "${CFG[@]}" "${SHORT[@]}"
ser-experiment --out "$OUT/strl_emodb_leaky_segment_split" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=utterance --set data.split_unit=segment \
  --title "STRL-SER, EMO-DB, LEAKY segment-level 80/20 split, HSFs per utterance" -- "${CFG[@]}" "${SHORT[@]}"
