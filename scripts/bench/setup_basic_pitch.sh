#!/usr/bin/env bash
# Create .venv-bp, the benchmark-only environment for Spotify's Basic Pitch (not a product dependency).
# basic-pitch goes in with --no-deps, so TensorFlow is never installed: it runs its ONNX model
# (saved_models/icassp_2022/nmp.onnx) through onnxruntime. Every version is pinned by basic_pitch.lock.
# Idempotent: does nothing when .venv-bp already imports basic-pitch 0.4.0 and onnxruntime.
#   bash scripts/bench/setup_basic_pitch.sh [VENV_DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv-bp}"
LOCK="$ROOT/scripts/bench/basic_pitch.lock"
BASIC_PITCH_VERSION=0.4.0

ready() {
  "$VENV/bin/python" - <<PY 2>/dev/null
import importlib.metadata as m, onnxruntime, basic_pitch.inference  # noqa: F401
assert m.version("basic-pitch") == "$BASIC_PITCH_VERSION"
PY
}

if [ -x "$VENV/bin/python" ] && ready; then
  echo "$VENV: basic-pitch $BASIC_PITCH_VERSION is ready"
  exit 0
fi

PYTHON="$(command -v python3.11 || command -v python3)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q --no-deps "basic-pitch==$BASIC_PITCH_VERSION"
"$VENV/bin/pip" install -q -c "$LOCK" \
  onnxruntime librosa numpy scipy pretty_midi mir_eval soundfile resampy
ready || { echo "$VENV: basic-pitch or onnxruntime does not import" >&2; exit 1; }
echo "$VENV: basic-pitch $BASIC_PITCH_VERSION installed"
