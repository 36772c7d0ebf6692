"""Every user-facing text of the bot and the terminal chat, as Telegram HTML templates, in
English: the source of the French and Spanish catalogs (bot/i18n.py, bot/locales/).

Strings only: the messages are put together in bot/render.py, which escapes every dynamic
value it fills in. Each constant is one gettext message (msgctxt = its name, msgid = its
English text); a dict constant is one message per key. Read them as `texts.NAME`, never
`from bot.texts import NAME`: the lookup happens at each use, in the language of the turn
(`__getattr__` at the end of this module). After changing a text here, run
`python -m bot.i18n update` and translate what it marks (tests/unit/test_i18n.py fails until
every catalog is complete).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

BOT_NAME = "Partner Guide"


WELCOME = (
    f"<b>{BOT_NAME}</b> answers questions on choosing and managing partners from UN guidance, "
    "and always cites the paragraph it rests on.\n\n"
    "• Ask a question in plain words, e.g. <i>How should we screen a company before a "
    "partnership?</i>\n"
    "• Follow up with a short question such as <i>and for NGOs?</i>\n"
    "• /checklist runs a guided partner-selection checklist\n"
    "• /sources lists the documents I know\n"
    "• /help shows all commands\n"
    "• /language: I answer in English, French or Spanish"
)
HELP = (
    "<b>How to use me</b>\n"
    "Type a question and I answer with quotes from the guidance, each with its citation. "
    "Tap <b>Show passage</b> to read a cited paragraph in full, and 👍 / 👎 to rate the answer.\n"
    "If the guidance does not cover your question I say so and show the closest passages.\n"
    "Ask in English, French or Spanish: I answer in the language of your question (or the one "
    "you choose with /language). The quotes stay in English, the language of the guidance."
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
SUMMARY_COHORT = "Your training cohorts, or the answers and ratings of one"
SUMMARY_RUNS = "Your checklist runs, and their reports again"
SUMMARY_TRAINING = "A training link of a checklist for a cohort"
SUMMARY_STATS = "Usage, unanswered questions, feedback"
SUMMARY_REINDEX = "Rebuild the knowledge index"
SUMMARY_USERS = "Who may use the bot"
SUMMARY_ALLOW = "Give a user access, with a role"
SUMMARY_REVOKE = "Take a user's access away"
SUMMARY_JOIN = "Ask for access with the join code"
SUMMARY_LANGUAGE = "Choose the language I answer in"
# What follows a command's name in /help.
USAGE_TRAINING = "<checklist id> <cohort tag>"
USAGE_COHORT = "[tag]"
USAGE_ALLOW = "<user id> [staff|trainer|admin]"
USAGE_REVOKE = "<user id>"
USAGE_JOIN = "<code>"
USAGE_LANGUAGE = "[en|fr|es]"

# /language (its buttons name each language in itself: bot/i18n.py NAMES)
LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish"}
LANGUAGE_CHOSEN_NOW = "I answer in <b>{name}</b>, as you chose. To change it, tap a language:"
LANGUAGE_AUTO_NOW = (
    "I answer in the language of each question, else in the language of your Telegram app "
    "(now <b>{name}</b>). To have every answer in one language, tap it:"
)
LANGUAGE_AUTO = "Automatic"
LANGUAGE_SET = (
    "From now on I answer in English. Quotes from the guidance stay in English, with their "
    "citations. Send /language to change this."
)
LANGUAGE_AUTO_SET = (
    "From now on I answer in the language of each question (English, French or Spanish), else "
    "in the language of your Telegram app. Send /language to choose one."
)
LANGUAGE_UNKNOWN = (
    "I cannot answer in <b>{given}</b>. I speak English (<code>/language en</code>), French "
    "(<code>/language fr</code>) and Spanish (<code>/language es</code>)."
)
# Shown in English, French and Spanish, one after the other.
UNSUPPORTED_LANGUAGE = (
    "I answer questions in English, French and Spanish only, and yours seems to be in another "
    "language. Please ask it again in one of these three."
)

EMPTY_QUESTION = (
    "Your message is empty. Please type a question, for example: <i>What is due diligence?</i>"
)
NO_WORDS = (
    "I could not find any words in your message. Please type your question in words, for "
    "example: <i>Which partners need a capacity assessment?</i>"
)
NUMBER_ONLY = (
    "Your message is only a number, and I cannot search for a number alone. To choose one of "
    "the options shown, tap its button (in the terminal chat, type its number after a slash: "
    "<i>/1</i>); to ask a question, type it in words, for example: <i>Which partners need a "
    "capacity assessment?</i>"
)
LINK_ONLY = (
    "Your message is only a link or an e-mail address, and I cannot open links. Please type "
    "your question in words, for example: <i>Which partners need a capacity assessment?</i>"
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
FOLLOW_UP_NOTE = "<i>(Read together with your previous question: {previous})</i>\n\n"
SOURCES_HEADING = "<b>Sources</b>"
SHOW_PASSAGE = "Show passage {n}"
HELPFUL = "👍"
NOT_HELPFUL = "👎"
FEEDBACK_THANKS = "Thank you for the feedback."
FEEDBACK_ASK_COMMENT = (
    "Thank you. What was wrong or missing? <b>Reply to this message</b> with a short comment "
    "(a message that is not a reply is answered as a question), or send /cancel to skip."
)
VOTED = "{label} ✔"
COMMENT_CLOSED = (
    "That comment prompt is closed (cancelled, already answered, or older than a day), so "
    "nothing was saved. Tap 👎 under the answer again to comment on it."
)
COMMENT_EMPTY = "The comment was empty, so nothing was saved. Reply to this message with it."
FEEDBACK_COMMENT_SAVED = (
    "Thank you, your comment was saved for the team that maintains the guidance."
)
STALE_BUTTON = (
    "That button belongs to an old or another message and no longer works. Please ask again."
)
UNSUPPORTED = (
    "I can only read text messages, so I cannot use this {kind}. Please type your question."
)
MESSAGE_KINDS = {  # what a user sent that is not text (bot/tg/app.py MESSAGE_KINDS)
    "photo": "photo", "sticker": "sticker", "voice": "voice message", "video": "video",
    "video_note": "video message", "audio": "audio file", "document": "document",
    "location": "location", "contact": "contact", "poll": "poll", "dice": "dice",
    "animation": "animation", "venue": "venue", "other": "message",
}
NOT_ALLOWED = (
    "Sorry, you are not on the list of users of this bot yet. Please send your user id "
    "<code>{user_id}</code> to an administrator and ask for access."
)
NOT_ALLOWED_WITH_CODE = NOT_ALLOWED + " If you have a join code, send <code>/join CODE</code>."
ADMIN_ONLY = "Sorry, /{command} is for administrators only."
TRAINER_ONLY = "Sorry, /{command} is for trainers and administrators only."
PRIVATE_ONLY = (
    "/{command} is used in a private chat with me, so that what it shows stays private. "
    "Please send it to me there{where}."
)
PRIVATE_LINK = ": <a href=\"https://t.me/{username}\">t.me/{username}</a>"
UNKNOWN_COMMAND = "I do not know the command /{command}. Send /help to see what I can do."
UNKNOWN_COMMAND_MEANT = (
    "I do not know the command /{command}. Did you mean /{meant}? Send /help to see what I can "
    "do."
)
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
INDEX_UNAVAILABLE = (
    "Sorry, the knowledge index cannot be read right now, so I cannot answer questions. This "
    "was written to the bot's log for the administrators; please try again later."
)
INDEX_BROKEN_ADMIN = (
    "⚠️ No version of the knowledge index can be read: {reason}. Users are told the index is "
    "unavailable. Rebuild it with <code>partnerbot index</code> (or /reindex)."
)
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
SOURCES_TITLE = "<b>Documents in the knowledge base</b>"
SOURCES_LINE = "• {symbol}{title} ({organization}, {date}; {passages} passages)"


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
    "Sorry, something went wrong while handling your message. The error was written to the "
    "bot's log for the team. Please try again in a moment."
)
INTERNAL_ERROR_SHORT = "Sorry, something went wrong. Please try again."
TERMINAL_QUIT = "(Type /quit to leave.)"
TERMINAL_REPLY = "(What you type next is your reply to this message; an empty line skips it.)"
TERMINAL_NOT_SENT = (
    "(A message for user {user_id} was not sent: the terminal chat cannot reach other users.)"
)
EDITED = "I answer new messages only. Please send your corrected question as a new message."

# ---- checklists ------------------------------------------------------------------------
# The run engine's messages (bot/runs.py).
RISK_NAMES = {"low": "low", "medium": "medium", "high": "high"}
RISK_NOTE = " ({risk} risk)"
RUN_FINISHED = "This run is finished. Start a new run to answer again."
RUN_ABANDONED = "This run was abandoned. Start a new run instead."
CHOOSE_ONE = "Please choose one of: {options}."
CHOOSE_SOME = "Please choose one or more of: {options}. Separate them with commas."
NO_SUCH_OPTION = "There is no option '{token}'. Send one of: {options}."
NO_OPTION_NUMBER = "There is no option {number}. Send a number from 1 to {count}."
NOT_A_NUMBER = "That is not a number. Send a number such as 1500 or 1,500.5."
NUMBER_AMBIGUOUS = (
    "I cannot tell whether {given} means {small} or {large}. Send the number without a dot "
    "between thousands, such as 1500, or with a dot before the decimals only."
)
NUMBER_OTHER_CURRENCY = (
    "This question asks for an amount in {unit}, and {given} is in another currency. Convert "
    "it to {unit} and send the number."
)
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
QUESTION_PROGRESS = "<i>{title} — {section} — question {number} of about {total}</i>"
NUMBER_ANY = "Type a number{unit}."
NUMBER_MIN = "Type a number{unit}, at least {min}."
NUMBER_MAX = "Type a number{unit}, at most {max}."
NUMBER_BETWEEN = "Type a number{unit}, at least {min} and at most {max}."
TYPE_TEXT = "Type your answer."
TICK_ALL = "Tick all that apply, then tap Done."
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
NOTE_ASK = "Reply with your note for this question (or send /cancel)."
NOTE_SAVED = "Note saved."
RUN_NOT_ACTIVE = (
    "This checklist run is finished or was cancelled. Send /checklist to start again."
)
RUN_ABANDONED_MSG = "Checklist run cancelled. Send /checklist to start again."
OLD_QUESTION = "That button is from an earlier question; here is the current one."
WHY_HEADING = "<b>Why this question matters</b>\n{help}"
CITE_MISSING = "<i>{cite}: this passage is no longer in the knowledge base.</i>"
TRAINING_FEEDBACK = "🎓 {body}\n<i>Source: {cites}</i>"
REPORT_CAPTION = "Checklist report"
# checklists in the conversation (bot/checklists/flow.py)
PARTNER_ASK = (
    "Which partner is this run about? Type its name or a reference (it goes into the report "
    "and lets you find the run again), or tap the button to go on without one."
)
PARTNER_ASK_TRAINING = (
    "Which partner does the case you practise on name? Type it (it goes into the report), or "
    "tap the button to go on without one."
)
PARTNER_SKIP = "Go on without a name"
PARTNER_NAMED = "Partner: <b>{partner}</b> ✔"
PARTNER_NONE = "No partner named ✔"
CANCELLED_PARTNER = "naming the partner (the run goes on without a name)"
RUN_GOES_ON = "<i>Your checklist run goes on; its question again:</i>"
RUN_CHANGED = "That was already answered; the run is as shown."
STOP_CONFIRM = "Cancel your run of <b>{title}</b>? Its answers are kept, but it cannot go on."
STOP_YES = "✖️ Yes, cancel the run"
STOP_NO = "No, go on"
STOP_KEPT = "The run goes on."
RUN_CANCELLED_MARK = "\n\n✖️ <i>Run cancelled.</i>"
SKIPPED = "(skipped)"
TICK_FIRST = "Tick at least one option first, then tap Done."
ANSWERED = "\n\n✔ <b>{answer}</b>"
ASKED_BELOW = "\n\n<i>↓ asked again below</i>"
RUNS_NONE = "You have no checklist runs yet. Send /checklist to start one."
RUNS_HEADING = "<b>Your checklist runs</b> (newest first)"
RUN_STATUS = {"in_progress": "in progress", "completed": "finished", "abandoned": "cancelled"}
RUNS_LINE = "• Run {id}: {title}, {started}, {status}{rating}{partner}"
RUNS_REPORT = "📄 Reports of run {id}"
RUNS_RESUME = "▶️ Resume run {id}"
TRAINING_USAGE = (
    "Send /training followed by a checklist id and a cohort tag (letters, digits and -), e.g. "
    "<code>/training implementing-partner-selection geneva-2026</code>. Checklists: {ids}."
)
TRAINING_TOO_LONG = (
    "That link would be {length} characters after /start, more than Telegram's 64. Use a "
    "shorter cohort tag."
)
COHORT_TAKEN = "The cohort tag <b>{tag}</b> belongs to another trainer. Choose another tag."
TRAINING_LINK = (
    "Training link for <b>{title}</b>, cohort <b>{tag}</b>:\n{link}\n\nWhoever opens it "
    "answers in training mode; send /cohort {tag} to see the cohort's runs."
)
COHORT_EMPTY = "No runs yet for the cohort <b>{tag}</b>."
COHORT_HEAD = "<b>Cohort {tag}</b>: {runs} runs ({status})"
COHORT_RATINGS = "Ratings: {ratings}"
COHORT_NO_RATINGS = "none yet"
COHORT_RUNS = "<b>Runs</b>"
COHORT_RUN_LINE = "• Run {run_id}: {partner} — {status}{rating}"
COHORT_NO_PARTNER = "<i>no partner named</i>"
COHORT_ANSWERS = "<b>Answers</b>"
COHORTS_NONE = "You have no cohorts yet. Make a training link with /training."
COHORTS_HEADING = "<b>Cohorts</b>"
COHORTS_LINE = "• <b>{tag}</b> ({checklist}): {runs} runs"
COHORT_NOT_YOURS = (
    "The cohort <b>{tag}</b> is not one of yours: trainers see the cohorts of their own "
    "training links (send /cohort to list them); admins see all."
)
# Strict answers (answer files) and the rules the engine applies (bot/checklists/engine.py).
NOT_WHOLE = "This question takes a whole number, not {number}."
ANSWER_EXCLUSIVE = "'{label}' cannot be combined with other options: choose it alone."
ANSWER_BOOL = (
    "Got {value}, not an answer: YAML reads a bare yes, no, on or off as true or false, so "
    'quote the value, e.g. "yes" or "no".'
)
ANSWER_WANTS_NUMBER = "Expected a number, got {got}."
ANSWER_WANTS_TEXT = "Expected text, got {got}. Quote it if that is the answer."
ANSWER_WANTS_ONE = "Expected one option value, got {got}. Use one of: {options}."
ANSWER_WANTS_LIST = "Expected a list of option values, got {got}. Use some of: {options}."
ANSWER_NOT_VALUE = "Not an option value of this question: {token}. Use one of: {options}."
ANSWER_NUMBER_FOR_CHOICE = (
    "Expected an option value, got the number {number}: answer files name options by their "
    "value, not their position. Use one of: {options}."
)
PARTNER_TOO_LONG = "The partner's name or reference is too long: at most {limit} characters."
RULE_FLOOR = (
    "{count} answers carry {risk} risk or more (this tool's floor: {at_least}), so the rating "
    "is raised from {before} to {after}."
)
TOOL_RULE = "Rule of this tool: {applies}"
RESULT_HEADING = "<b>Result: {label}</b>"
RESULT_PARTNER = "Partner: <b>{partner}</b>"
RESULT_SCORE = "Score {percent}% (not applicable and skipped questions are left out)"
RESULT_WHY = "<b>Why</b>"
RESULT_ACTIONS = "<b>Required actions</b>"
RESULT_NO_ACTIONS = "• None."
RESULT_REPORT = (
    "Every answer, the questions not asked and the sources are in the attached report "
    "(Markdown and CSV)."
)


# ---- admins ------------------------------------------------------------------------------
CHART_CAPTION = "Questions per day: answered and declined"
REINDEX_STARTED = "Re-indexing: the bot keeps answering from the current index meanwhile."
REINDEX_FAILED = "Re-indexing failed; the current index keeps serving.\n<code>{reason}</code>"
REINDEX_DONE = (
    "Re-index finished ({state}): {added} added, {unchanged} unchanged, {removed} removed "
    "in {seconds:.1f} s. Version <code>{version}</code>."
)
REINDEX_SWITCHED = "switched"
REINDEX_UNCHANGED = "nothing changed"
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
JOIN_ALREADY_SENT = (
    "Your request is already with the administrators; you will get a message here when one "
    "of them answers."
)
JOIN_REQUEST = "User <code>{user_id}</code> {name} asks for access with the join code."
APPROVE = "✅ Approve"
DENY = "✖️ Deny"
JOIN_ALREADY = "This request was already handled."
JOIN_DENIED_ADMIN = "Request of user <code>{user_id}</code> denied."
JOIN_DENIED = "Your request for access was not approved. Please contact an administrator."

# access and input limits (bot/admin/flow.py, bot/cli/admin.py; the CLI prints them as text)
ROLE_CHANGED = "User <code>{user_id}</code> is now {role} (was {before})."
YOUR_ROLE_CHANGED = "Your role in Partner Guide is now {role} (was {before}). Send /help to begin."
ROLE_UNCHANGED = "User <code>{user_id}</code> already has the role {role}; nothing changed."
ALREADY_REVOKED = (
    "User <code>{user_id}</code> had no access already (revoked earlier); nothing changed."
)
NO_ACCESS_UNCHANGED = "User <code>{user_id}</code> had no access; nothing changed."
SETTINGS_ADMIN_FIXED = (
    "User <code>{user_id}</code> is an admin listed in PARTNERBOT_ADMINS: only that setting "
    "changes their access. Edit PARTNERBOT_ADMINS on the server and restart the bot."
)
ADMINS_ONLY_BY_SETTINGS = (
    "Only the admins listed in PARTNERBOT_ADMINS may make someone an admin, or change or revoke "
    "another admin's access. Ask one of them."
)
CHANGE_SELF = "You cannot change your own role; ask another admin."
NOT_A_ROLE = (
    "'{role}' is not a role. Send /allow followed by a user id and staff, trainer or admin, "
    "e.g. /allow 123456789 trainer."
)
JOIN_USAGE = "Send /join followed by the join code an administrator gave you."
JOIN_HAS_ACCESS = "You already have access to Partner Guide ({role}); no join code is needed."
JOIN_LOCKED = (
    "Too many wrong join codes: /join is paused for you until {until} UTC (in about {minutes} "
    "min). Please try again after that, or ask an administrator for the current code."
)
JOIN_LOCKED_ADMIN = (
    "⚠️ User <code>{user_id}</code> {name} sent {count} wrong join codes within {window} "
    "minutes; /join is refused for them until {until} UTC. One alert per lockout."
)


# document uploads ------------------------------------------------------------------------
# An admin sends a file in a private chat (bot/admin/upload.py); the preview is put together
# in render.upload_preview.
UPLOAD_ADMIN_ONLY = (
    "Sorry, only administrators can add documents to the knowledge base. To suggest one, send "
    "it to an administrator."
)
UPLOAD_PRIVATE_ONLY = (
    "Documents are added in a private chat with me, not in a group. Send the file to me "
    "directly."
)
UPLOAD_BAD_CAPTION = (
    "I could not read the caption line <code>{line}</code>, so I did not open the file. Write "
    "one field per line, e.g. <code>title: Partner screening policy</code> or "
    "<code>symbol: JIU/REP/2023/1</code> (fields: title, symbol, label, date, kind, "
    "organization), or just a title or a symbol, and send the file again."
)
UPLOAD_TYPE_SUFFIX = "it is a <code>{suffix}</code> file"
UPLOAD_TYPE_NONE = "its name has no extension, so I cannot tell its type"
UPLOAD_UNKNOWN_TYPE = (
    "I cannot add <b>{name}</b>: {what}. I can add PDF (with a text layer), Word "
    "(<code>.docx</code>), HTML, Markdown (<code>.md</code>) and text (<code>.txt</code>) files. "
    "Save or export it as one of these (an old Word <code>.doc</code> as <code>.docx</code>) "
    "and send it again. Nothing was changed."
)
UPLOAD_TOO_LARGE = (
    "<b>{name}</b> is {size} MB; I can take files of up to {limit} MB. Send a smaller version "
    "(e.g. saved without images), or add it on the server with <code>partnerbot add</code>. "
    "Nothing was changed."
)
UPLOAD_NOT_DOWNLOADED = (
    "I could not download <b>{name}</b>: {reason} Please send it again in a moment. Nothing "
    "was changed."
)
UPLOAD_NOT_STAGED = (
    "I could not keep <b>{name}</b> for the preview ({reason}). The bot's data directory may be "
    "full or read-only; the team has to fix that first. Nothing was changed."
)
UPLOAD_NOT_CONVERTED = "⚠️ I cannot add <b>{name}</b>: {reason}\n\nNothing was changed."
UPLOAD_REPLACES = (
    "⚠️ I cannot add <b>{name}</b>: it would replace {what}. Documents are not replaced from "
    "the chat: to update one, replace it on the server (<code>partnerbot add FILE "
    "--replace</code>, then <code>partnerbot index</code>). If this is a different document, "
    "send it again with a caption giving its own <code>title: …</code> or "
    "<code>symbol: …</code>. Nothing was changed."
)
UPLOAD_SAME_ID = "the document <code>{id}</code> (<i>{title}</i>), which has the same title"
UPLOAD_SAME_SYMBOL = (
    "the document <code>{id}</code> (<i>{title}</i>), which has the same symbol {symbol}"
)
UPLOAD_SAME_SOURCE = (
    "the document <code>{id}</code> (<i>{title}</i>), made from a file of the same name"
)
UPLOAD_PREVIEW_HEAD = "📄 I read <b>{name}</b>. It would be added as:"
UPLOAD_PREVIEW_FIELDS = (
    "<b>Title:</b> {title}\n<b>Symbol:</b> {symbol}\n<b>Organization:</b> {organization} · "
    "<b>Date:</b> {date} · <b>Kind:</b> {kind}\n<b>Found:</b> {sections} sections, "
    "{paragraphs} paragraphs ({numbered} numbered)\n<b>File:</b> <code>{source_id}.md</code>"
)
UPLOAD_NO_SYMBOL = "none"
UPLOAD_FIRST_PARAGRAPH = "<b>First paragraph</b>\n<i>{text}</i>"
UPLOAD_CHECK = "<b>Please check</b>"
UPLOAD_PREVIEW_ASK = (
    "Tap <b>Add</b> to add it and re-index (I answer from it right after), or <b>Cancel</b>. "
    "To set the title or symbol, send the file again with a caption, one field per line: "
    "<code>title: …</code>, <code>symbol: JIU/REP/2023/1</code> (also <code>label</code>, "
    "<code>date</code>, <code>kind</code>, <code>organization</code>)."
)
UPLOAD_ADD = "✅ Add"
UPLOAD_STALE = (
    "This file is no longer waiting to be added: it was added or cancelled, a newer file "
    "replaced it, or it expired. Send the file again."
)
UPLOAD_GONE = (
    "The copy of <b>{name}</b> kept for the preview is gone (the bot's data directory was "
    "cleaned). Send the file again. Nothing was changed."
)
UPLOAD_DROPPED = "Not added: <b>{name}</b>. Nothing was changed."
UPLOAD_CANCELLED_WHAT = "adding the document {name}"
UPLOAD_ADDING = (
    "Adding <b>{title}</b> and re-indexing: the bot keeps answering from the current index "
    "meanwhile."
)
UPLOAD_ADDED = (
    "✅ Added <b>{title}</b>{symbol} as <code>{source_id}</code>: {passages} passages, index "
    "version <code>{version}</code>. Ask a question about it now."
)
UPLOAD_INDEX_FAILED = (
    "⚠️ <b>{title}</b> was not added: re-indexing failed, so I took the document out again and "
    "the current index keeps serving. Fix the problem below, then send the file again.\n"
    "<code>{reason}</code>"
)


# ---- the catalog: the names above, looked up in the language of the turn -----------------
# Texts the same in every language (names and symbols), left out of the catalogs.
SAME_IN_EVERY_LANGUAGE = frozenset({"BOT_NAME", "HELPFUL", "NOT_HELPFUL", "PROBLEM"})
# The English texts by name: the catalogs' source (bot/i18n.py). The names are then taken out
# of the module, so that `texts.NAME` goes through `__getattr__` (PEP 562) and is looked up in
# the language of the turn; mypy still reads them above, with their types.
SOURCE: dict[str, Any] = {name: value for name, value in globals().items()
                          if name.isupper() and isinstance(value, str | dict)}
for _name in SOURCE:
    del globals()[_name]

if not TYPE_CHECKING:
    from bot import i18n as _i18n

    def __getattr__(name: str) -> Any:
        """`texts.NAME` in the language of the turn being handled (English outside one)."""
        return _i18n.text(name)
