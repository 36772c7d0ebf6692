#!/usr/bin/env bash
# Set up everything on a fresh machine: .venv (torch 2.13.0 CPU first, then the project with a
# torch==2.13.0 constraint), the ONNX export of the model, and the index when there is none.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL (the second backend of the session log): the tests start a throwaway server of
# their own, so only the binaries are needed. Installed with apt-get when we are root;
# otherwise the PostgreSQL tests say how to install it and are skipped (failed in CI).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing PostgreSQL (Debian's postgresql package) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q postgresql >/dev/null; }
  else
    echo "PostgreSQL is not installed (as root: apt-get install -y postgresql);" \
         "its tests will be skipped."
  fi
fi

# nginx (the reverse proxy in front of several webhook workers, deploy/nginx.conf): the
# end-to-end test of two workers runs a nginx of its own, so only the binary is needed.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing nginx (Debian's nginx package) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q nginx >/dev/null; }
    # the package starts a default site on port 80; the bot needs none of it
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  else
    echo "nginx is not installed (as root: apt-get install -y nginx);" \
         "the test of several workers behind it will be skipped."
  fi
fi

PYTHON=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV ..."
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "Installing torch 2.13.0 (CPU) ..."
  "$VENV/bin/pip" install -q "torch==2.13.0"
fi
stamp="$VENV/.partnerbot-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing the project and its dependencies ..."
  echo "torch==2.13.0" > "$VENV/constraints.txt"
  "$VENV/bin/pip" install -q -c "$VENV/constraints.txt" -e ".[dev]"
  echo "$want" > "$stamp"
fi

# The project's own modules compiled to bytecode once: Python reads .pyc files even where
# PYTHONDONTWRITEBYTECODE keeps it from writing them, so each start skips compiling them
# (about 0.1 s of `partnerbot ask`). A changed source is compiled again when it is imported.
"$VENV/bin/python" -m compileall -q -j 0 bot index ingest >/dev/null

DATA_DIR=${PARTNERBOT_DATA_DIR:-var}
MODEL=${PARTNERBOT_MODEL:-all-MiniLM-L6-v2}
ONNX_DIR="$DATA_DIR/models/${MODEL//\//__}"
if [ "$MODEL" = "all-MiniLM-L6-v2" ] && [ ! -f "$ONNX_DIR/export.json" ]; then
  echo "Exporting the model to ONNX (once) ..."
  "$VENV/bin/python" -m index.onnx_export --model "$MODEL" "$ONNX_DIR"
fi
if [ ! -f "$DATA_DIR/index/CURRENT" ]; then
  echo "Building the index (once) ..."
  "$VENV/bin/partnerbot" index
elif [ "${PARTNERBOT_LANGUAGE_MODEL-multilingual-e5-small}" != "" ] \
     && [ ! -d "$DATA_DIR/index/versions/$(cat "$DATA_DIR/index/CURRENT")/language" ]; then
  # an index from before French and Spanish: the build reuses every English vector and adds
  # the multilingual-e5-small ones (about 2 minutes, once)
  echo "Adding the vectors for French and Spanish questions to the index (once) ..."
  "$VENV/bin/partnerbot" index
fi
