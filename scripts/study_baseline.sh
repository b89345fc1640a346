#!/usr/bin/env bash
# The linear baseline on every split the study uses: RAVDESS and EMO-DB, paper 80/20 (STRL-SER),
# paper 6:2:2 (STA-CNN) over 5 seeds, and every speaker fold.  RAVDESS/EMODB: corpus folders.
set -euo pipefail
RAVDESS=${RAVDESS:?set RAVDESS to the corpus folder}; EMODB=${EMODB:?set EMODB to the corpus folder}
OUT=${OUT:-runs/study}; JOBS=${JOBS:-2}
for corpus in emodb ravdess; do
  root=$([ $corpus = ravdess ] && echo "$RAVDESS" || echo "$EMODB")
  ser-experiment --out "$OUT/baseline_${corpus}_8020" --seeds 0 1 2 3 4 --folds --jobs "$JOBS" \
    --title "Linear baseline, $corpus, 80/20 and speaker folds" -- \
    -c configs/trainer.yaml -c configs/model/baseline.yaml -c configs/data/$corpus.yaml --data.root "$root"
  ser-experiment --out "$OUT/baseline_${corpus}_622" --seeds 0 1 2 3 4 --jobs "$JOBS" \
    --title "Linear baseline, $corpus, 6:2:2" -- \
    -c configs/trainer.yaml -c configs/model/baseline.yaml -c configs/data/$corpus.yaml --data.root "$root" --data.ratios '[0.6,0.2,0.2]'
done
