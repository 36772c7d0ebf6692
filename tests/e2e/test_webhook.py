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


def start_update(update_id: int, user: int = 42) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": "/start",
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "Ana"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}


def post_raw(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=body,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_webhook_needs_its_secret_and_handles_each_update_once(
        real_data_dir: Path) -> None:
    port = free_port()
    with FakeBotAPI() as server:
        env = {**os.environ, "PARTNERBOT_DATA_DIR": str(real_data_dir),
               "PARTNERBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
               "PARTNERBOT_TELEGRAM_TOKEN": server.token,
               "PARTNERBOT_TELEGRAM_API_URL": server.base_url, "PARTNERBOT_ALLOWED_USERS": "*"}
        process = subprocess.Popen(  # no --secret-token, no --listen: the safe defaults
            [sys.executable, "-m", "bot", "run", "--webhook", "--port", str(port),
             "--url", "https://bot.example.org"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            registered = server.wait_for("setWebhook", timeout=90)
            kept = real_data_dir / "webhook-secret"
            secret = kept.read_text().strip()
            assert registered["secret_token"] == secret and len(secret) >= 32
            assert kept.stat().st_mode & 0o777 == 0o600
            update = start_update(1)
            assert post(port, update, "") == 403  # no secret header at all
            assert post_raw(port, json.dumps(update).encode(), {}) == 403
            assert post(port, update, "wrong") == 403
            assert post(port, {"no": "update"}, secret) == 400
            assert post_raw(port, b"{not json", {"X-Telegram-Bot-Api-Secret-Token": secret}) \
                == 400
            forged = {**start_update(2, user=666)}
            forged["message"]["text"] = "/allow 666 admin"
            assert post(port, forged, "guess") == 403
            assert post(port, update, secret) == 200
            assert post(port, update, secret) == 200  # Telegram delivering it again
            server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) == "42", timeout=30)
            assert post(port, start_update(3), secret) == 200
            server.wait_for("sendMessage", lambda p: str(p.get("chat_id")) == "42", timeout=30)
            time.sleep(1.0)  # a second answer to update 1 would have come by now
        finally:
            process.terminate()
            output = process.communicate(timeout=120)[0]  # the model may still be loading
    assert process.returncode == 0, output
    to_42 = [c for c in server.calls("sendMessage") if str(c.get("chat_id")) == "42"]
    assert len(to_42) == 2, to_42  # updates 1 and 3, each once
    assert not [c for c in server.calls("sendMessage") if str(c.get("chat_id")) == "666"]
    assert "webhook listening on 127.0.0.1:" in output
    assert secret not in output and server.token not in output


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
            output = process.communicate(timeout=120)[0]  # the model may still be loading
    assert server.token not in output
