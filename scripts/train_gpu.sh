#!/usr/bin/env bash
# Train the bundled default model on a GPU machine in one command that installs nothing
# (torch, numpy, pillow, safetensors and tqdm must be present).
#
#   scripts/train_gpu.sh MINUTES [DEVICE]       (DEVICE default cuda; cpu for a dry run)
#
# First copy your training photos to data/ (git-ignored): a folder of JPEG or PNG photos,
# directly in it, by default data/imagenet-sample-320 (the default model's 950 photos shrunk to
# a shorter side of 320 px, 42 MB); DATA=folder picks another.
# Writes $OUT (or ./out) /run/{best,last}.safetensors, history.json, train_state.pt and
# $OUT/default.safetensors (the best export), plus the evaluation of the held-out split.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:?minutes}
DEVICE=${2:-cuda}
OUT=${OUT:-out}
DATA=${DATA:-data/imagenet-sample-320}
PY=${PY:-python}
mkdir -p "$OUT"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
# tiny12: ViT-Tiny encoder (12x192) and a 4x128 decoder; images decoded once, cropped on the GPU
"$PY" -m mae_desktop train "$DATA" --preset tiny12 --device "$DEVICE" --minutes "$MINUTES" \
    --batch-size "${BATCH:-256}" --lr "${LR:-3e-3}" --warmup "${WARMUP:-500}" \
    --eval-every "${EVAL_EVERY:-1000}" --out "$OUT/run" --export "$OUT/default.safetensors" \
    2>&1 | tr '\r' '\n' | grep -v '%|' || true
"$PY" -m mae_desktop evaluate "$OUT/default.safetensors" "$DATA" --split val \
    --masks-per-image 4 --device "$DEVICE" --json > "$OUT/eval.json"
cat "$OUT/eval.json"
