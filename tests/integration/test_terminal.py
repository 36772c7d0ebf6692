"""The terminal chat (`partnerbot chat`): standard input through the real wiring and the real
model, as an operator types it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from bot import texts
from bot.cli import cli
from tests.conftest import ROOT


def chat(data_dir: Path, *lines: str, knowledge: Path = ROOT / "knowledge") -> Result:
    env = {"PARTNERBOT_DATA_DIR": str(data_dir), "PARTNERBOT_KNOWLEDGE_DIR": str(knowledge)}
    return CliRunner().invoke(cli, ["chat"], env=env, input="".join(f"{x}\n" for x in lines))


def test_a_question_is_answered_and_its_passage_opened(real_data_dir: Path) -> None:
    result = chat(real_data_dir, "deadline for the common IP definition?", "/1", "/quit")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Partner Guide answers questions") and texts.TERMINAL_QUIT in out
    assert "by the end of 2024" in out and "— SG note on A/77/257, Recommendation 1" in out
    assert "/1 Show passage 1" in out and "/2 👍" in out
    # /1 pressed the first button: the whole recommendation, with its locator
    assert out.count("by the end of 2024") >= 2 and "\nRecommendation 1\n" in out


def test_messages_for_other_users_are_not_shown_as_the_operators(real_data_dir: Path) -> None:
    result = chat(real_data_dir, "/allow 555 trainer", "/users")
    assert result.exit_code == 0, result.output
    assert "User 555 may now use the bot as trainer." in result.output
    assert texts.TERMINAL_NOT_SENT.format(user_id=555) in result.output
    assert "You now have access" not in result.output  # meant for user 555, not sent here
    assert "555" in result.output.split("/users")[-1]


def test_reindex_progress_is_printed_as_it_comes(real_data_dir: Path, tmp_path: Path) -> None:
    result = chat(real_data_dir, "/reindex")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Re-indexing: the bot keeps answering" in out
    assert "Read 5 documents" in out
    assert out.index("Read 5 documents") < out.index("Re-index finished")


def test_bad_input_and_end_of_input(real_data_dir: Path) -> None:
    result = chat(real_data_dir, "", "?", "/nosuchcommand", "/cancel")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Your message is empty" in out and "I could not find any words" in out
    assert "I do not know the command /nosuchcommand" in out
    assert texts.NOTHING_TO_CANCEL.split(".")[0] in out
