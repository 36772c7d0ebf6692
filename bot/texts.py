"""Every user-facing text of the bot and the terminal chat, as Telegram HTML templates.

Strings only: the messages are put together in bot/render.py, which escapes every dynamic
value it fills in.
"""

from __future__ import annotations

BOT_NAME = "Partner Guide"


WELCOME = (
    f"<b>{BOT_NAME}</b> answers questions on choosing and managing partners from UN guidance, "
    "and always cites the paragraph it rests on.\n\n"
    "• Ask a question in plain words, e.g. <i>How should we screen a company before a "
    "partnership?</i>\n"
    "• Follow up with a short question such as <i>and for NGOs?</i>\n"
    "• /checklist runs a guided partner-selection checklist\n"
    "• /sources lists the documents I know\n"
    "• /help shows all commands"
)
HELP = (
    "<b>How to use me</b>\n"
    "Type a question and I answer with quotes from the guidance, each with its citation. "
    "Tap <b>Show passage</b> to read a cited paragraph in full, and 👍 / 👎 to rate the answer.\n"
    "If the guidance does not cover your question I say so and show the closest passages."
)
HELP_SECTIONS = {"staff": "<b>Commands</b>", "trainer": "<b>Trainers</b>",
                 "admin": "<b>Admin</b>"}
HELP_LINE = "/{name}{usage} – {summary}"
# One line per command, for /help and the Telegram command menus.
SUMMARY_START = "Welcome and what I can do"
SUMMARY_HELP = "How to use me"
SUMMARY_CANCEL = "Stop what I am waiting for (a comment, a note)"
SUMMARY_SOURCES = "Documents in the knowledge base"
SUMMARY_CHECKLIST = "Run a partner-selection checklist"
SUMMARY_COHORT = "Answers and ratings of a training cohort"
SUMMARY_STATS = "Usage, unanswered questions, feedback"
SUMMARY_REINDEX = "Rebuild the knowledge index"
SUMMARY_USERS = "Who may use the bot"
SUMMARY_ALLOW = "Give a user access, with a role"
SUMMARY_REVOKE = "Take a user's access away"
SUMMARY_JOIN = "Ask for access with the join code"

EMPTY_QUESTION = (
    "Your message is empty. Please type a question, for example: <i>What is due diligence?</i>"
)
NO_WORDS = (
    "I could not find any words in your message. Please type your question in words, for "
    "example: <i>Which partners need a capacity assessment?</i>"
)
TRUNCATED = (
    "<i>Your message is {length:,} characters long; I searched with its first {limit:,} "
    "characters. A shorter question gives a better answer.</i>\n\n"
)
NOT_COVERED = (
    "The guidance in my knowledge base does not cover this question, so I cannot answer it "
    "reliably. Please ask your partnerships focal point.\n\n<b>Closest passages</b> (they may "
    "not answer your question; tap <b>Show passage</b> to read one in full):"
)
OTHER_LANGUAGE = (
    "The guidance I search is in English and I could not find a reliable answer to your "
    "question. Please ask in English.\n\n<b>Closest passages</b>:"
)
FOLLOW_UP_NOTE = "<i>(Read together with your previous question: {previous})</i>\n\n"
SOURCES_HEADING = "<b>Sources</b>"
SHOW_PASSAGE = "Show passage {n}"
HELPFUL = "👍"
NOT_HELPFUL = "👎"
FEEDBACK_THANKS = "Thank you for the feedback."
FEEDBACK_ASK_COMMENT = (
    "Thank you. What was wrong or missing? Reply with a short comment, or send /cancel to skip."
)
FEEDBACK_COMMENT_SAVED = (
    "Thank you, your comment was saved for the team that maintains the guidance."
)
STALE_BUTTON = (
    "That button belongs to an old or another message and no longer works. Please ask again."
)
UNSUPPORTED = (
    "I can only read text messages, so I cannot use this {kind}. Please type your question."
)
NOT_ALLOWED = (
    "Sorry, you are not on the list of users of this bot yet. Please send your user id "
    "<code>{user_id}</code> to an administrator and ask for access."
)
NOT_ALLOWED_WITH_CODE = NOT_ALLOWED + " If you have a join code, send <code>/join CODE</code>."
ADMIN_ONLY = "Sorry, /{command} is for administrators only."
TRAINER_ONLY = "Sorry, /{command} is for trainers and administrators only."
UNKNOWN_COMMAND = "I do not know the command /{command}. Send /help to see what I can do."
CANCELLED = "Cancelled: {what}. Ask a question or send /help."
CANCELLED_COMMENT = "the comment on my answer"
CANCELLED_NOTE = "the note for the checklist question"
CANCELLED_SELECTION = "the options you had ticked"
CANCELLED_START = "starting the new checklist (your run in progress goes on)"
NOTHING_TO_CANCEL = "There is nothing to cancel. Ask a question or send /help."
NOTHING_TO_CANCEL_RUN = (
    "There is nothing to cancel. Your checklist run goes on; to stop it, tap ✖️ Cancel under "
    "its question."
)
NO_FLOW = "I could not handle this message. Please ask a question or send /help."
PROBLEM = "⚠️ {message}"
PROBLEM_HINT = "⚠️ {message}\n\nNext step: {hint}"
INDEX_MISSING = (
    "The knowledge index is not ready yet, so I cannot answer questions. An administrator "
    "needs to build it (<code>partnerbot index</code>)."
)
INDEX_BROKEN = "The knowledge index cannot be used right now: {reason}"
LOG_FAILED_ADMIN = (
    "⚠️ The session log could not be written: {reason}. Answers are still sent; the log rows "
    "are kept beside the database and written back when it works again. You get one alert per "
    "incident."
)
LOG_RECOVERED_ADMIN = "✅ The session log works again: {reason} kept rows were written back."
NOT_SAVED = (
    "Sorry, I could not save that just now (the bot's storage is not available), so nothing "
    "was recorded. Please try again in a few minutes; the team has been told."
)
SOURCES_EMPTY = "The knowledge base has no documents yet."


SMALL_TALK = {
    "help": HELP + "\n\nSend /help to see every command.",
    "greeting": "Hello! Ask me anything about choosing and managing partners, for example "
                "<i>What should staff be trained on when managing implementing partners?</i> "
                "I answer from UN guidance and cite the paragraph. /checklist runs a guided "
                "partner-selection checklist, /help shows more.",
    "thanks": "You are welcome. Ask another question whenever you like, or send /help.",
    "bye": "Goodbye. I am here whenever you have a question on partners.",
    "ack": "Fine. Ask a question about choosing or managing partners whenever you like, or "
           "send /help to see what I can do.",
}
NO_TERMS = (
    "Your message has no words I can search for (only words such as <i>what</i>, <i>is</i> "
    "or <i>it</i>). Please say what you want to know about, for example: <i>What does the "
    "guidance say about due diligence on companies?</i>"
)


INTERNAL_ERROR = (
    "Sorry, something went wrong while handling your message. It has been kept, and the "
    "team has been told. Please try again in a moment."
)
TERMINAL_QUIT = "(Type /quit to leave.)"
TERMINAL_NOT_SENT = (
    "(A message for user {user_id} was not sent: the terminal chat cannot reach other users.)"
)
EDITED = "I answer new messages only. Please send your corrected question as a new message."

# ---- checklists ------------------------------------------------------------------------
# The run engine's messages (bot/runs.py).
RUN_FINISHED = "This run is finished. Start a new run to answer again."
RUN_ABANDONED = "This run was abandoned. Start a new run instead."
CHOOSE_ONE = "Please choose one of: {options}."
CHOOSE_SOME = "Please choose one or more of: {options}. Separate them with commas."
NO_SUCH_OPTION = "There is no option '{token}'. Send one of: {options}."
NO_OPTION_NUMBER = "There is no option {number}. Send a number from 1 to {count}."
NOT_A_NUMBER = "That is not a number. Send a number such as 1500 or 1,500.5."
TOO_SMALL = "The number must be at least {min}. Send a larger number."
TOO_LARGE = "The number must be at most {max}. Send a smaller number."
EMPTY_TEXT = "The answer is empty. Send a short text answer."
NOT_SKIPPABLE = "This question cannot be skipped. Send an answer instead."
NOTHING_TO_UNDO = "There is no earlier answer to go back to."
EMPTY_NOTE = "The note is empty. Send the note text."
NOTHING_TO_NOTE = "There is no question to attach a note to yet."
RULE_BAND = "Score {percent}% is in the {low}-{high}% band: {label}."
RULE_KEY = ("Key question \"{question}\" was answered \"{answer}\" ({risk} risk), so the rating "
            "is raised from {before} to {after}.")
CHECKLIST_MENU = (
    "<b>Checklists</b>\nChoose one to start. Each question cites the rule it rests on."
)
CHECKLIST_NONE = "No checklist is available right now."
CHECKLIST_BROKEN = (
    "\n\n⚠️ {count} checklist file(s) could not be loaded, e.g. <code>{first}</code>"
)
CHECKLIST_ACTIVE = "\n\nYou have a run of <b>{title}</b> in progress."
CHECKLIST_UNKNOWN = "There is no checklist '{id}'. Send /checklist to see the available ones."
CHECKLIST_UNUSABLE = (
    "The checklist '{id}' cannot be used because its file is broken: <code>{reason}</code>"
)
CHECKLIST_CONFLICT = (
    "You already have a run of <b>{title}</b> in progress. Resume it, or abandon it and start "
    "the new one?"
)
CHECKLIST_START = "<b>{title}</b> (version {version})\n{description}"
TRAINING_MODE = (
    "\n\n<i>Training mode: after each answer you see why it matters, with its source.</i>"
)
RESUME = "▶️ Resume"
ABANDON_AND_START = "Abandon it and start the new one"
WHY = "Why?"
NOTE = "📝 Note"
SKIP = "Skip"
BACK = "⬅️ Back"
CANCEL = "✖️ Cancel"
DONE = "Done ✔"
NOTE_ASK = "Send your note for this question as a message."
NOTE_SAVED = "Note saved."
RUN_NOT_ACTIVE = (
    "This checklist run is finished or was cancelled. Send /checklist to start again."
)
RUN_ABANDONED_MSG = "Checklist run cancelled. Send /checklist to start again."
OLD_QUESTION = "That button is from an earlier question; here is the current one."
USE_BUTTONS = "\nPlease tap one of the buttons below (or type the option's number)."
WHY_HEADING = "<b>Why this question matters</b>\n{help}"
CITE_MISSING = "<i>{cite}: this passage is no longer in the knowledge base.</i>"
TRAINING_FEEDBACK = "🎓 {body}\n<i>Source: {cites}</i>"
REPORT_CAPTION = "Checklist report"
COHORT_USAGE = (
    "Send /cohort followed by the cohort tag from the training link, e.g. /cohort geneva-2026."
)


# ---- admins ------------------------------------------------------------------------------
CHART_CAPTION = "Questions per day: answered and declined"
REINDEX_STARTED = "Re-indexing: the bot keeps answering from the current index meanwhile."
REINDEX_FAILED = "Re-indexing failed; the current index keeps serving.\n<code>{reason}</code>"
REINDEX_DONE = (
    "Re-index finished ({state}): {added} added, {unchanged} unchanged, {removed} removed "
    "in {seconds:.1f} s. Version <code>{version}</code>."
)
REINDEX_CHECKLISTS = "\n\n⚠️ Checklist problems after re-indexing:\n<code>{problems}</code>"
ALLOW_USAGE = (
    "Send /allow followed by a user id and optionally a role: staff, trainer or admin."
)
REVOKE_USAGE = "Send /revoke followed by a user id, e.g. /revoke 123456789."
REVOKE_SELF = "You cannot revoke your own access."
NO_LONGER_INDEXED = "{chunk_id} (no longer indexed)"
USERS_HEADING = "<b>Users</b>"
USERS_WAITING = "\n<b>Waiting for approval</b>"
ALLOWED = "User <code>{user_id}</code> may now use the bot as {role}."
YOU_ARE_ALLOWED = "You now have access to Partner Guide ({role}). Send /help to begin."
REVOKED = "User <code>{user_id}</code> no longer has access."
NOT_A_USER = "User <code>{user_id}</code> had no access."
JOIN_WRONG_CODE = "That join code is not right. Ask an administrator for the current code."
JOIN_SENT = (
    "Thank you. Your request was sent to the administrators; you will get a message here."
)
JOIN_REQUEST = "User <code>{user_id}</code> {name} asks for access with the join code."
APPROVE = "✅ Approve"
DENY = "✖️ Deny"
JOIN_ALREADY = "This request was already handled."
JOIN_DENIED_ADMIN = "Request of user <code>{user_id}</code> denied."
JOIN_DENIED = "Your request for access was not approved. Please contact an administrator."
