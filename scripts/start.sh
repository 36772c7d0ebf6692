#!/usr/bin/env bash
# Set up if needed, then start the main job: the Telegram bot when a token is set,
# otherwise the terminal chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -n "${PARTNERBOT_TELEGRAM_TOKEN:-}" ] || [ -n "${PARTNERBOT_TELEGRAM_TOKEN_FILE:-}" ]; then
  exec .venv/bin/partnerbot run "$@"
fi
echo "No PARTNERBOT_TELEGRAM_TOKEN set: starting the terminal chat."
exec .venv/bin/partnerbot chat
