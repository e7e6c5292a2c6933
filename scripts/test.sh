#!/usr/bin/env bash
# Sets up .venv and runs every check: lint, strict types, and all tests (real models included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The report test drives a real headless Chromium: Debian's package, installed when missing (needs root).
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
# The corpus-pipeline tests read real documents (Debian docs, Common Crawl records, TeX sources): fetched once.
PYTHON=.venv/bin/python bash scripts/fixtures.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
