#!/usr/bin/env bash
# The rest of this session's study: (1) does the short schedule (30 ep, lr x0.9) match the paper's
# (150 ep, lr x0.95)?  (2) STRL-SER readings under the speaker protocol on EMO-DB (10 folds), where a
# validation split disjoint from test exists, so a reading can be chosen on validation data;
# (3) STA-CNN's defaults on EMO-DB over seeds and folds. The speaker grid includes opt-in mixup.  EMODB: corpus folder.
set -euo pipefail
EMODB=${EMODB:?set EMODB to the corpus folder}; OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}
SHORT=(--trainer.max_epochs 30 --model.init_args.scheduler.init_args.gamma 0.9)
CFG=(-c configs/strl_ser/base.yaml -c configs/strl_ser/emodb.yaml --data.root "$EMODB")
NET=model.init_args.net.init_args
ser-experiment --out "$OUT/strl_emodb_hsf_utterance_150ep" --seeds 0 1 2 --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=utterance \
  --title "STRL-SER, EMO-DB, paper 80/20, HSFs per utterance, the paper's 150-epoch schedule" -- "${CFG[@]}"
ser-experiment --out "$OUT/strl_emodb_speaker" --folds --jobs "$JOBS" \
  --set $NET.fusion_tokens=branches --set data.hsf_scope=segment,utterance --set model.init_args.mixup_alpha=0,0.4 \
  --title "STRL-SER, EMO-DB, speaker folds: HSF scope x mixup (winner chosen on validation UA)" -- "${CFG[@]}" "${SHORT[@]}"
ser-experiment --out "$OUT/sta_emodb" --seeds 0 1 2 --folds --jobs "$JOBS" \
  --title "STA-CNN defaults, EMO-DB, 6:2:2 and speaker folds" -- \
  -c configs/sta_cnn/base.yaml -c configs/sta_cnn/emodb.yaml --data.root "$EMODB"
