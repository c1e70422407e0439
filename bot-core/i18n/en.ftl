# Hearth's own words in English. Each key needs the same key in ko.ftl (a test checks).
# Variables: { $name }. Translators: keep /commands and `code` as they are.

## Commands: the menus (Telegram setMyCommands, Discord slash command descriptions)
cmd-start = Say hello and show what I can do
cmd-help = Show help
cmd-reset = Start a new conversation
cmd-model = List models, or /model NAME to pick one
cmd-remember = Remember something: /remember TEXT
cmd-memory = List what I remember, or /memory QUERY to search
cmd-forget = Forget a memory: /forget ID, /forget all (memories), /forget everything (all about you)
cmd-export = Get everything stored about you as a file
cmd-notes = Search notes: /notes QUERY, /notes off|on, /notes add (file the document just sent)
cmd-remind = Set a reminder: /remind in 20 minutes take the pizza out
cmd-reminders = List your reminders, or /reminders cancel ID, snooze ID 10m
cmd-schedule = Run a prompt on a schedule: /schedule every weekday at 7:30 summarize my day
cmd-schedules = List scheduled prompts, or /schedules cancel|pause|resume ID
cmd-timezone = Show or set your time zone: /timezone Asia/Seoul
cmd-language = Show or set the language I answer in: /language ko, en or auto
cmd-ask = Ask the assistant

## Help
help-intro =
    I am your own assistant, answered by a model running on your own server.
    Just write to me. Commands:
help-outro =
    Ask for reminders in your own words too ("remind me in 20 minutes to take the pizza out", "내일 오전 9시에 치과 가라고 알려줘"); times are in your time zone (/timezone).
    I also pick up lasting facts from our chats (turn that off with /memory off). In group chats I use your memories only if you allow it with /memory shared on.
    I answer in the language you write in; /language sets one.
start-greeting = Hello { $name }!

## Conversation
reset-done = Started a new conversation. Earlier messages no longer count.
unknown-command = I don't know the command /{ $name }. Send /help to see what I can do.
busy = I am busy with many requests right now. Please try again in a few minutes.
too-long = That message is too long for the model's context window (about { $needed } tokens, { $available } available). Please shorten it.

## Trouble
something-went-wrong = Sorry, something went wrong while handling that message. The problem is logged; please try again.
storage-trouble = Sorry, I could not save that. The problem is logged; please try again.
model-unreachable = The model server is not reachable right now. I will try again with your next message.
model-not-installed = The model `{ $model }` is not installed on the model server. Install it with `ollama pull { $model }` or pick another one with /model.
model-server-trouble = The model server had a problem answering. Please try again in a moment.
model-timeout = The model did not answer within { $seconds } seconds. It may still be loading; please try again in a moment.

## /language
language-shown-auto =
    Language: automatic (I answer in the language you write in).
    Fix it with /language en or /language ko (한국어).
language-shown-fixed =
    Language: I answer in English.
    Change it with /language ko (한국어) or /language auto (the language you write in).
language-set-fixed = I will answer in English from now on.
language-set-auto = I will answer in the language you write in.
language-unknown = I don't speak "{ $wanted }" yet. Choose /language en (English), /language ko (한국어) or /language auto.

## /timezone
timezone-shown = Your time zone: { $zone } (it is { $now } there).
timezone-shown-default = Your time zone (the bot's default; you have not set one): { $zone } (it is { $now } there).
timezone-how = Change it with /timezone Area/City, e.g. /timezone Asia/Seoul or /timezone America/New_York.
timezone-set = Your time zone is now { $zone } (it is { $now } there).
timezone-moved = { $count ->
    [one] 1 repeating reminder now follows it.
   *[other] { $count } repeating reminders now follow it.
}
timezone-unknown = I don't know the time zone "{ $zone }". Use an IANA name such as Asia/Seoul, Europe/Berlin or America/New_York.

## Reminders
reminder-set = ⏰ Reminder { $id } set for { $at } ({ $zone }): { $text }
reminder-set-repeat = ⏰ Reminder { $id } set for { $repeat } ({ $zone }), first { $at }: { $text }
schedule-set =
    🗓 Scheduled prompt { $id } set for { $at } ({ $zone }): { $text }
    The answer will come to this chat.
schedule-set-repeat =
    🗓 Scheduled prompt { $id } set for { $repeat } ({ $zone }), first { $at }: { $text }
    The answer will come to this chat.
reminder-private-note = I will send it to you in a private message.
reminder-fired = ⏰ Reminder: { $text }
reminder-late = ⏰ Reminder (late by { $late }, it was due { $due }): { $text }
reminder-missed = ⏰ Missed reminder { $id }: it was due { $due } ({ $zone }), { $late } ago, while I was offline. That is past the { $limit } limit, so this is only a note: { $text }
reminder-snooze-hint = _Snooze: /reminders snooze { $id } 10m_
reminder-repeat-note = _{ $id }, { $repeat }_

## Memories
remember-how = Tell me what to remember, for example: /remember my sister Ana lives in Lisbon.
remember-too-long = That is too long to remember ({ $chars } characters; the limit is { $limit }). Please shorten it.
remembered = Got it, I will remember that (id `{ $id }`).
memory-page-number = Page numbers are whole numbers from 1, e.g. /memory page 2.
memory-capture-off = I will no longer pick up facts from our chats by myself. /remember still works; /memory on turns it back on.
memory-capture-on = I will pick up lasting facts from our chats again. /memory off stops that.
memory-shared-on = In group chats and channels I will now use your memories when I answer you. Others there can read my answers.
memory-shared-off = In group chats and channels I will not use your memories.
memory-none-about = I remember nothing about “{ $query }”.
memory-about = What I remember about “{ $query }”:
memory-empty = I don't remember anything about you yet. Tell me with /remember TEXT.
memory-no-page = There are only { $pages } page(s) of memories.
memory-page = What I remember about you (page { $page } of { $pages }, { $count } in all):
memory-more = More: /memory page { $next }.
memory-forget-hint = Forget one with /forget ID.
forget-which = Which memory? Send /forget ID (the ids are in /memory), /forget all for every memory, or /forget everything for all I keep about you.
forget-nothing = I don't remember anything about you.
forget-all-ask = This deletes all { $count } memories I keep about you. To go ahead, send /forget all confirm.
forget-all-done = Done: I forgot all { $count } memories about you.
forgotten-id = Forgotten: memory `{ $id }`.
forgotten-text = Forgotten: “{ $text }”.
forget-no-such = I have no memory `{ $id }`. /memory lists them with their ids.
forget-not-an-id = That is not a memory id. Ids look like m3; /memory lists them. To forget everything, send /forget all.
export-done = Everything I keep about you is in the file: { $memories } memories, { $messages } messages, your reminders and your settings.
export-caption = Everything Hearth keeps about you
forget-nothing-at-all = I keep nothing about you.
forget-everything-ask = This deletes everything I keep about you: { $memories } memories, { $messages } messages of our conversations, { $reminders } reminders and schedules, { $documents } filed documents, and your settings. It cannot be undone (/export first if you want a copy). To go ahead, send /forget everything confirm.
forget-everything-ask-shared = This deletes everything I keep about you (memories, conversations, reminders, documents, settings) and cannot be undone. To go ahead, send /forget everything confirm.
forget-everything-done = Done: everything I kept about you is deleted ({ $memories } memories, { $messages } messages, { $reminders } reminders, { $documents } documents, your settings).
forget-everything-done-shared = Done: everything I kept about you is deleted.
remind-help =
    Tell me when and what, for example:
    - /remind in 20 minutes take the pizza out
    - /remind tomorrow at 9 call the dentist
    - /remind on 2027-01-15 at 10:00 renew the passport
    - /remind every weekday at 8 stand-up
    - /remind 내일 오전 9시 치과 전화
schedule-help =
    Tell me when and what to do, for example:
    - /schedule every weekday at 7:30 summarize my reminders for today
    - /schedule every Monday at 9 suggest three priorities for the week
    - /schedule tomorrow at 18:00 give me a recipe idea
    The answer comes to this chat, with your memories and notes as for any question.
when-no-time = I could not tell when you want to be reminded.
when-conflicting = I could not tell when: "{ $first }" and "{ $second }" name different times.
when-invalid = "{ $phrase }" is not a time or date I can use.
when-past = "{ $phrase }" has already passed.
when-repeat-without-time = That repeats, but at what time? For example: every day at 7:00.
when-no-text = I see when, but not what to remind you of.
nothing-set = Nothing was set.
reminder-which = Which one? Give its id, as in /reminders (r1, r2, ...).
reminder-no-such = You have no reminder { $id }. /reminders lists yours.
reminder-cancel-which = Which one? /reminders cancel ID (the ids are in /reminders).
reminder-cancelled = Cancelled reminder { $id }.
reminders-none = You have no reminders.
schedules-none = You have no scheduled prompts.
reminders-header = Your reminders:
schedules-header = Your scheduled prompts:
reminder-paused-mark = (paused)
reminders-recent = Sent in the last day (snooze with /reminders snooze ID 10m):
reminders-cancel-hint = Cancel one with /reminders cancel ID.
schedules-cancel-hint = Cancel one with /schedules cancel ID; pause ID and resume ID too.
reminders-usage = /reminders lists your reminders; /reminders cancel ID, /reminders snooze ID 10m, /reminders pause ID and /reminders resume ID change one.
reminder-not-repeating = { $id } is not a repeating reminder; cancel it with /reminders cancel { $id }.
reminder-paused = Paused { $id }. /reminders resume { $id } starts it again.
reminder-resumed = Resumed { $id }: next { $at } ({ $zone }).
snooze-unreadable = I could not read "{ $by }" as a length of time; try /reminders snooze { $id } 10m.
snooze-not-fired = { $id } has not gone off yet (it is set for { $at }); snooze is for after it fires.
snoozed = 💤 { $id } snoozed until { $at } ({ $zone }): { $text }

## Voice notes
voice-off = 🎙 Voice notes are not set up on this bot: its owner has not configured a speech model (HEARTH_WHISPER_MODEL). Please type your message.
voice-too-large = That voice note is too large ({ $size }; the limit is { $limit }).
voice-too-large-after = That voice note is too large (the limit is { $limit }).
model-loading = Loading the model, this can take a minute…
memory-model-loading = The bot has just started and is still loading its memory model; your answer follows in a moment…
voice-transcribing = Transcribing your voice note…
voice-download-failed = I couldn't download that voice note. Please send it again.
voice-queued = Waiting to transcribe: you are number { $position } in the queue.
voice-no-words = 🎙 I couldn't make out any words in that voice note.
voice-unsupported = I can't listen to { $format } audio. I understand voice notes and OGG/Opus files (.ogg, .opus); MP3, M4A, WAV and video notes are not supported yet.
voice-corrupt = I couldn't read that audio: the file seems damaged or isn't an OGG/Opus voice note.
voice-empty = That voice note is empty.
voice-too-long = That voice note is too long: I transcribe up to { $minutes } minutes.
voice-failed = Something went wrong while transcribing. Please try again, or type your message.

## The model queue
queued = Waiting for the model: you are number { $position } in the queue.

## Tools and actions: the 🔧 lines under an answer, and confirmations
tool-unknown = the model asked for a tool I do not have ({ $name })
tool-ran = ran { $name }
tool-failed = { $name } failed: { $error }
tool-declined = { $name } not sent: you cancelled
tool-unconfirmed = { $name } not sent: no confirmation
tool-storage-failed = { $name } failed: storage is unavailable
tool-checked-time = checked the time
tool-reminder-set = set reminder { $id } for { $at }: { $text }
tool-reminder-failed = could not set a reminder ({ $why })
tool-listed-reminders = looked at your reminders
tool-reminder-cancelled = cancelled reminder { $id }
tool-reminder-missing = found no reminder { $id }
tool-searched-memories = searched your memories for '{ $query }'
tool-remembered = remembered: { $text }
tool-remember-failed = could not remember that ({ $error })
tool-searched-notes = searched your notes for '{ $query }'
confirm-prompt = Run **{ $name }**? It will send:
confirm-run = ✅ Run
confirm-cancel = ✖ Cancel

## Slash-command options (Discord)
arg-ask-prompt = What to ask
arg-ask-private = Only you see the answer (your memories may then be used)
arg-model = The model to use
arg-remember = What to remember
arg-memory = Words to search for (or on, off, shared on, shared off, page N)
arg-forget = A memory id, all, or everything
arg-notes = Words to search for (or on, off); empty shows the vaults
arg-remind = When and what, e.g. tomorrow at 9 call the dentist
arg-reminders = cancel ID, snooze ID 10m, pause ID, resume ID; empty lists them
arg-schedule = When and the prompt, e.g. every day at 8 plan my day
arg-schedules = cancel ID, pause ID, resume ID; empty lists them
arg-timezone = An IANA time zone, e.g. Europe/Berlin
arg-language = ko (한국어), en (English) or auto

## Access
refused = Sorry, this is a private assistant and you are not on its list of users. If you know its owner, ask them to add your user id { $id } to { $setting }.

## /notes
notes-not-set-up = No notes are set up. The owner can point `HEARTH_NOTES` at an Obsidian vault or a Logseq graph.
notes-now-off = Notes are off: I will not use the owner's notes in your answers. /notes on turns them back on.
notes-now-on = Notes are on: I will use the owner's notes in your answers when they help.
notes-nothing = Nothing in the notes matches “{ $query }”.
notes-search-failed = The notes index cannot be searched right now; the problem is logged.
notes-not-in-groups = The owner's notes are not used in group chats. Ask me in a private chat.
notes-none-shared = The owner has not shared any notes with you.
notes-title = Notes
notes-off-mark = (off for your answers: /notes on)
notes-on-mark = (used in your answers: /notes off)
notes-not-indexed = not indexed yet
notes-indexed-at = indexed { $at }
notes-counts = { $notes } notes, { $passages } passages
notes-failed-files = { $count ->
    [one] 1 file could not be read:
   *[other] { $count } files could not be read:
}
notes-failed-more = … and { $count } more
notes-search-hint = Search them with /notes QUERY.

## Taps on a confirmation's buttons
decided-running = Running it…
decided-declined = Cancelled: nothing was sent.
decided-not-yours = Only the person who asked can answer this.
decided-expired = This request has expired; nothing was sent.
decided-outcome-approved = ✅ Confirmed
decided-outcome-declined = ✖ Cancelled
decided-outcome-expired = ⌛ Expired: nothing was sent.

## Where a memory came from, in /memory listings
memory-source-explicit = you told me
memory-source-extracted = from our chat
memory-source-imported = imported

## Endings of an answer
answer-sources = Sources: { $sources }
answer-empty = (The model returned an empty answer.)
answer-stopped = _(stopped: the bot is shutting down)_

## Private answers asked for in a shared chat
private-sent = 🔒 That is private, so I sent it to you in a private message.
private-failed = 🔒 That is private, so I won't show it here, and I could not send it to you privately just now. Please ask me in a private chat.
private-hint-discord = 🔒 That is private, so I won't show it here, and Discord does not let me send you a direct message. Allow direct messages from this server's members, or use the slash command: only you see its answer.
private-hint-telegram = 🔒 That is private, so I won't show it here. Open a private chat with me (tap my name, then Start) and ask there.

## Photos and documents
files-off = 📎 I can't read files on this bot. Please type your question.
photo-default-prompt = What's in this picture?
photo-name = the photo
document-name = the document
document-summarize = Summarize the document { $name }: what it is, its main points, and anything that needs doing.
vision-unavailable = 🖼 Your model ({ $model }) can't see pictures. The owner can set HEARTH_VISION_MODEL to a model that can, e.g. `ollama pull qwen2.5vl:3b`.
file-too-large = { $name } is too large ({ $size }; the limit is { $limit }).
file-download-failed = I couldn't download { $name }. Please send it again.
file-unsupported = I can't read { $name }: { $format } is not a format I read. I read pictures (PNG, JPEG, WebP, GIF) and documents (PDF, .txt, .md, .csv, .json, .html, .docx).
file-corrupt = I couldn't read { $name }: the file seems damaged or is not what its name says.
file-expands = I couldn't read { $name }: it unpacks to far more than it should (a zip bomb?), so I stopped.
image-too-many-pixels = That picture is too large to open ({ $width }×{ $height } pixels). Please send a smaller one.
document-encrypted = 🔒 { $name } is password-protected, so I can't read it. Please send a copy without a password.
document-no-text = { $name } has no text I can read. If it is a scan, it has no text layer (I can't read text in images of pages); please send a text version.
document-reading = Reading { $name }…
document-cut = { $name } is very long: I read only its first part.
notes-add-nothing = Send me a document first (a PDF, Word, HTML or text file), then /notes add files it into your documents.
notes-add-done = 📄 Filed { $name } into your documents ({ $passages } passages). I will use it in my answers to you from now on; /export includes it and /forget all deletes it.
notes-filed = Your documents ({ $count }): { $names }
forget-all-ask-documents = This deletes all { $count } memories I keep about you and your { $documents } filed documents. To go ahead, send /forget all confirm.
forget-documents-done = Your { $documents } filed documents are deleted too.
