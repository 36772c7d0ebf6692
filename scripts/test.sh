#!/usr/bin/env bash
# Set up if needed, then run the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check bot index ingest scripts tests
.venv/bin/mypy bot index ingest scripts tests
exec .venv/bin/python -m pytest "$@"
