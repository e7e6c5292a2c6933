#!/usr/bin/env bash
# Sets up .venv and scores the built-in models on the built-in fresh text, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 exec .venv/bin/compressiq demo "$@"
