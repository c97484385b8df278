#!/usr/bin/env bash
# A real-window check: start the app on a virtual X server, paint a stroke across the canvas
# with xdotool, and capture the screen before and after (needs xvfb, xdotool, imagemagick).
#   scripts/xvfb_check.sh [OUTDIR] [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/xvfb}
PY=${2:-python3}
mkdir -p "$OUT"
export DISPLAY=:97
Xvfb $DISPLAY -screen 0 1600x1000x24 >/dev/null 2>&1 &
XVFB=$!
for _ in $(seq 50); do [ -S /tmp/.X11-unix/X97 ] && break; sleep 0.1; done
trap 'kill $APP $XVFB 2>/dev/null || true' EXIT
"$PY" main.py >"$OUT/app.log" 2>&1 &
APP=$!
WIN=$(xdotool search --sync --name "MAE Desktop" | sed -n 1p)
sleep 4  # no signal to wait on from outside the process: give the first result time
/usr/bin/import -window root "$OUT/before.png"
eval "$(xdotool getwindowgeometry --shell "$WIN")"
# the canvas is the left part of the central area; drag across its middle, left button held
xdotool mousemove $((X + 420)) $((Y + 300)) mousedown 1
for dx in $(seq 0 12 240); do xdotool mousemove $((X + 420 + dx)) $((Y + 300)); done
xdotool mouseup 1
sleep 2
/usr/bin/import -window root "$OUT/after.png"
echo "screenshots in $OUT (before.png, after.png)"
