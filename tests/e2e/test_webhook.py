"""`partnerbot run --webhook`: the real command in its own process, updates posted to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ROOT
from tests.support.fakebotapi import FakeBotAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, update: dict, secret: str) -> int:
    """POST an update; retry for up to 10 s while the web server is still starting."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return post_once(port, update, secret)
        except urllib.error.URLError as exc:
            if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def post_once(port: int, update: dict, secret: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_webhook_mode_answers_posted_updates(real_data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    with FakeBotAPI() as server:
        env = {**os.environ, "PARTNERBOT_DATA_DIR": str(real_data_dir),
               "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
               "PARTNERBOT_TELEGRAM_TOKEN": server.token,
               "PARTNERBOT_TELEGRAM_API_URL": server.base_url, "PARTNERBOT_ALLOWED_USERS": "*"}
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook", "--listen", "127.0.0.1", "--port",
             str(port), "--url", "https://bot.example.org", "--secret-token", "s3cret"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            registered = server.wait_for("setWebhook", timeout=90)
            assert registered["url"] == "https://bot.example.org/telegram"
            assert registered["secret_token"] == "s3cret"
            update = {"update_id": 1, "message": {
                "message_id": 1, "date": int(time.time()), "text": "/start",
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
            assert post(port, update, "wrong") == 403
            assert post(port, update, "s3cret") == 200
            reply = server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) == "42",
                                    timeout=30)
            assert "Partner Guide" in reply["text"]
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0]
    assert server.token not in output
