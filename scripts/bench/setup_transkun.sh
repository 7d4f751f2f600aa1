#!/usr/bin/env bash
# Create .venv-transkun, the benchmark-only environment for Transkun V2 (not a product dependency: its weights
# are CC BY-NC-SA). transkun 2.0.1's wheel bundles its checkpoint (transkun/pretrained/2.0.pt), so nothing is
# downloaded when it runs. Every version is pinned by transkun.lock; /work/shared/PEERS.md says why each step.
# Idempotent: does nothing when .venv-transkun already imports transkun 2.0.1 on torch 2.13.0+cpu.
#   bash scripts/bench/setup_transkun.sh [VENV_DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv-transkun}"
LOCK="$ROOT/scripts/bench/transkun.lock"
TRANSKUN_VERSION=2.0.1
TORCH_VERSION=2.13.0

ready() {
  "$VENV/bin/python" - <<PY 2>/dev/null
import importlib.metadata as m, importlib.resources as r
import torch, transkun.ModelTransformer, pkg_resources  # noqa: F401
assert m.version("transkun") == "$TRANSKUN_VERSION", m.version("transkun")
assert torch.__version__.startswith("$TORCH_VERSION") and not torch.cuda.is_available(), torch.__version__
assert (r.files("transkun") / "pretrained" / "2.0.pt").is_file()
PY
}

if [ -x "$VENV/bin/python" ] && ready; then
  echo "$VENV: transkun $TRANSKUN_VERSION is ready"
  exit 0
fi

PYTHON="$(command -v python3.11 || command -v python3)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# torch first, so transkun's unpinned `torch` requirement is already met by the CPU build
"$VENV/bin/pip" install -q -c "$LOCK" "torch==$TORCH_VERSION"
"$VENV/bin/pip" install -q -c "$LOCK" "transkun==$TRANSKUN_VERSION" 'setuptools<81'  # its CLI imports pkg_resources
# torchaudio's wheel is a CUDA build whose compiled lib/ fails to load beside torch+cpu; transkun only calls
# torchaudio.functional.melscale_fbanks (pure Python), so the compiled part is moved aside.
TA_LIB="$("$VENV/bin/python" -c 'import importlib.util as u, os; print(os.path.join(os.path.dirname(u.find_spec("torchaudio").origin), "lib"))')"
if [ -d "$TA_LIB" ]; then
  rm -rf "$TA_LIB.unused"
  mv "$TA_LIB" "$TA_LIB.unused"
fi
ready || { echo "$VENV: transkun, torch $TORCH_VERSION+cpu or its checkpoint does not import" >&2; exit 1; }
echo "$VENV: transkun $TRANSKUN_VERSION installed"
