#!/usr/bin/env bash
# The rest of the first session's study, on EMO-DB (cheap enough for seeds and folds on 2 cores):
# choices made on validation splits disjoint from the test set (6:2:2, speaker folds), a check of the
# short schedule against the paper's 150 epochs, and STA-CNN's defaults over seeds.  EMODB: corpus folder.
set -euo pipefail
EMODB=${EMODB:?set EMODB to the corpus folder}; OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}
SHORT=(--trainer.max_epochs 30 --model.init_args.scheduler.init_args.gamma 0.9)
CFG=(-c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/emodb.yaml --data.root "$EMODB")
NET=model.init_args.net.init_args
# (1) The fusion reading, chosen on a validation split disjoint from the test set (6:2:2).
ser-experiment --out "$OUT/strl_emodb_fusion_622" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=dims,branches,fused --set data.hsf_scope=utterance --set 'data.ratios=[0.6,0.2,0.2]' \
  --title "STRL-SER, EMO-DB, 6:2:2, fusion readings (winner chosen on validation UA)" -- "${CFG[@]}" "${SHORT[@]}"
# (2) HSF per segment on the same 6:2:2 splits: the HSF scope is chosen on validation UA against (1)'s branches.
ser-experiment --out "$OUT/strl_emodb_hsf_segment_622" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=segment --set 'data.ratios=[0.6,0.2,0.2]' \
  --title "STRL-SER, EMO-DB, 6:2:2, HSFs per segment" -- "${CFG[@]}" "${SHORT[@]}"
# (3) HSF scope under the speaker protocol (winner chosen on validation UA).
ser-experiment --out "$OUT/strl_emodb_speaker" --folds --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=segment,utterance \
  --title "STRL-SER, EMO-DB, speaker folds: HSF scope (winner chosen on validation UA)" -- "${CFG[@]}" "${SHORT[@]}"
# (4) Does the short schedule match the paper's 150 epochs x0.95?
ser-experiment --out "$OUT/strl_emodb_hsf_utterance_150ep" --seeds 0 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=utterance \
  --title "STRL-SER, EMO-DB, paper 80/20, HSFs per utterance, the paper's 150-epoch schedule" -- "${CFG[@]}"
# (5) STA-CNN's defaults on EMO-DB over seeds.
ser-experiment --out "$OUT/sta_emodb" --seeds 0 1 2 --jobs "$JOBS" \
  --title "STA-CNN defaults, EMO-DB, 6:2:2" -- \
  -c configs/trainer.yaml -c configs/model/sta_cnn.yaml -c configs/data/emodb.yaml --data.root "$EMODB"
