"""The index on every worker, in the running bot: a worker on PostgreSQL that starts with no
index takes the version another node published, and switches to a re-index published by that
node at a later question, without a restart (bot/tg/runner.py `_keep_index`,
bot/index_replica.py). The other node is an index directory with its own replica; the bot is
the real one (hashing embedder for speed) polling the fake Bot API server."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psycopg

from bot.index_replica import IndexReplica
from bot.store import SessionLog
from index.build import build_index
from index.embedders import HashingEmbedder
from tests.conftest import ROOT, SAMPLE_DOCS
from tests.support.fakebotapi import FakeBotAPI
from tests.support.telegram import STAFF, RunningBot, telegram_dialogue
from tests.unit.test_index_replica import NEW_DOC, QUESTION


def logged_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT index_version FROM answers ORDER BY id")]


def test_a_worker_serves_the_version_published_elsewhere_without_a_restart(
        tmp_path: Path, database_url: str) -> None:
    corpus = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, corpus)
    other_index = tmp_path / "other-node" / "index"
    with SessionLog(database_url) as store:
        other = IndexReplica(store, other_index, HashingEmbedder().model_id, "other:8001")
        first = build_index(corpus, other_index, HashingEmbedder()).version
        assert other.sync().action == "published"

        data_dir = tmp_path / "var"  # a new node: no index of its own
        with FakeBotAPI() as server:
            dialogue = telegram_dialogue(server, data_dir, HashingEmbedder(),
                                         knowledge_dir=ROOT / "knowledge",
                                         database_url=database_url)
            bot = RunningBot(server, dialogue).start()
            try:
                assert bot.say(STAFF, QUESTION)  # answered from the received version
                assert logged_versions(database_url) == [first]
                (corpus / "zebra.md").write_text(NEW_DOC, encoding="utf-8")
                second = build_index(corpus, other_index, HashingEmbedder()).version
                assert other.sync().action == "published"
                for _ in range(40):  # bounded: the worker looks every 3 s
                    replies = bot.say(STAFF, QUESTION)
                    if logged_versions(database_url)[-1] == second:
                        break
                    time.sleep(0.25)
                versions = logged_versions(database_url)
                assert versions[-1] == second, versions
                assert set(versions) == {first, second}
                assert versions == sorted(versions, key=[first, second].index)  # no way back
                assert "zebra crossing" in replies[0].params["text"]
            finally:
                bot.stop()
        assert (data_dir / "index" / "CURRENT").read_text().strip() == second
