# Hearth의 한국어 문구. en.ftl과 같은 키가 모두 있어야 합니다(테스트가 확인합니다).
# 변수: { $name }. 번역할 때 /명령어와 `코드`는 그대로 두세요.

## 명령어 메뉴 (Telegram setMyCommands, Discord 슬래시 명령어 설명)
cmd-start = 인사하고 할 수 있는 일을 보여 줍니다
cmd-help = 도움말 보기
cmd-reset = 새 대화 시작
cmd-model = 모델 목록, /model 이름 으로 모델 선택
cmd-remember = 기억하기: /remember 내용
cmd-memory = 기억한 것 보기, /memory 검색어 로 찾기
cmd-forget = 기억 지우기: /forget ID, /forget all (기억 전부), /forget everything (나에 관한 모든 것)
cmd-export = 저장된 내 데이터를 파일로 받기
cmd-notes = 노트 검색: /notes 검색어, /notes off|on, /notes add (방금 보낸 문서 보관)
cmd-remind = 리마인더 설정: /remind 20분 후 피자 꺼내기
cmd-reminders = 내 리마인더 목록, /reminders cancel ID, snooze ID 10m
cmd-schedule = 정해진 시간에 프롬프트 실행: /schedule 평일 7:30 오늘 할 일 요약
cmd-schedules = 예약된 프롬프트 목록, /schedules cancel|pause|resume ID
cmd-timezone = 시간대 보기 또는 설정: /timezone Asia/Seoul
cmd-language = 답하는 언어 보기 또는 설정: /language ko, en, auto
cmd-ask = 어시스턴트에게 묻기

## 도움말
help-intro =
    저는 당신의 서버에서 돌아가는 모델이 답하는 개인 어시스턴트입니다.
    그냥 말을 걸어 주세요. 명령어:
help-outro =
    리마인더는 평소 말투로도 부탁할 수 있어요("내일 오전 9시에 치과 가라고 알려줘", "remind me in 20 minutes to take the pizza out"). 시간은 내 시간대 기준입니다(/timezone).
    대화에서 오래 기억할 만한 사실도 기억해 둡니다(/memory off 로 끌 수 있어요). 그룹 채팅에서는 /memory shared on 으로 허락한 경우에만 내 기억을 씁니다.
    보내신 메시지의 언어로 답합니다. /language 로 고정할 수 있어요.
start-greeting = 안녕하세요, { $name }님!

## 대화
reset-done = 새 대화를 시작했습니다. 이전 메시지는 더 이상 반영되지 않습니다.
unknown-command = /{ $name } 명령어는 모르겠어요. /help 를 보내면 할 수 있는 일을 알려 드릴게요.
busy = 지금 요청이 너무 많아요. 몇 분 뒤에 다시 시도해 주세요.
too-long = 메시지가 모델의 컨텍스트 창에 비해 너무 깁니다(약 { $needed } 토큰, 사용 가능 { $available } 토큰). 줄여서 보내 주세요.

## 문제
something-went-wrong = 죄송합니다. 메시지를 처리하다가 문제가 생겼어요. 기록해 두었으니 다시 시도해 주세요.
storage-trouble = 죄송합니다. 저장하지 못했어요. 기록해 두었으니 다시 시도해 주세요.
model-unreachable = 지금은 모델 서버에 연결할 수 없어요. 다음 메시지 때 다시 시도할게요.
model-not-installed = 모델 서버에 `{ $model }` 모델이 설치되어 있지 않아요. `ollama pull { $model }` 로 설치하거나 /model 로 다른 모델을 고르세요.
model-server-trouble = 모델 서버가 답하는 중에 문제가 생겼어요. 잠시 후 다시 시도해 주세요.
model-timeout = 모델이 { $seconds }초 안에 답하지 않았어요. 아직 불러오는 중일 수 있으니 잠시 후 다시 시도해 주세요.

## /language
language-shown-auto =
    언어: 자동 (보내신 메시지의 언어로 답합니다).
    고정하려면 /language ko 또는 /language en
language-shown-fixed =
    언어: 한국어로 답합니다.
    바꾸려면 /language en (English) 또는 /language auto (보내신 메시지의 언어로)
language-set-fixed = 이제 한국어로 답합니다.
language-set-auto = 이제 보내신 메시지의 언어로 답합니다.
language-unknown = "{ $wanted }"은(는) 아직 지원하지 않아요. /language ko, /language en 또는 /language auto 중에서 골라 주세요.

## /timezone
timezone-shown = 내 시간대: { $zone } (지금 그곳은 { $now }).
timezone-shown-default = 내 시간대 (따로 정하지 않아 봇의 기본값): { $zone } (지금 그곳은 { $now }).
timezone-how = /timezone 지역/도시 로 바꿀 수 있어요. 예: /timezone Asia/Seoul, /timezone America/New_York
timezone-set = 이제 내 시간대는 { $zone }입니다 (지금 그곳은 { $now }).
timezone-moved = 반복 리마인더 { $count }개가 새 시간대를 따릅니다.
timezone-unknown = "{ $zone }" 시간대는 모르겠어요. Asia/Seoul, Europe/Berlin, America/New_York 같은 IANA 이름을 써 주세요.

## 리마인더
reminder-set = ⏰ 리마인더 { $id } 설정: { $at } ({ $zone }) — { $text }
reminder-set-repeat = ⏰ 리마인더 { $id } 설정: { $repeat } ({ $zone }), 처음 { $at } — { $text }
schedule-set =
    🗓 예약 프롬프트 { $id } 설정: { $at } ({ $zone }) — { $text }
    답은 이 채팅으로 보내 드릴게요.
schedule-set-repeat =
    🗓 예약 프롬프트 { $id } 설정: { $repeat } ({ $zone }), 처음 { $at } — { $text }
    답은 이 채팅으로 보내 드릴게요.
reminder-private-note = 개인 메시지로 보내 드릴게요.
reminder-fired = ⏰ 리마인더: { $text }
reminder-late = ⏰ 리마인더 ({ $late } 늦음, 원래 { $due }): { $text }
reminder-missed = ⏰ 놓친 리마인더 { $id }: { $due } ({ $zone })에 보내야 했는데 제가 꺼져 있는 동안 { $late } 지났어요. 한도({ $limit })를 넘어 알림 대신 기록만 남깁니다: { $text }
reminder-snooze-hint = _다시 알림: /reminders snooze { $id } 10m_
reminder-repeat-note = _{ $id }, { $repeat }_

## 기억
remember-how = 무엇을 기억할지 알려 주세요. 예: /remember 우리 고양이 이름은 나비야
remember-too-long = 기억하기에는 너무 길어요({ $chars }자, 한도 { $limit }자). 줄여서 보내 주세요.
remembered = 알겠어요, 기억해 둘게요 (id `{ $id }`).
memory-page-number = 쪽 번호는 1부터 시작하는 정수예요. 예: /memory page 2
memory-capture-off = 이제 대화에서 사실을 알아서 기억하지 않을게요. /remember 는 그대로 쓸 수 있고, /memory on 으로 다시 켤 수 있어요.
memory-capture-on = 다시 대화에서 오래 기억할 만한 사실을 기억해 둘게요. /memory off 로 끌 수 있어요.
memory-shared-on = 이제 그룹 채팅과 채널에서도 답할 때 내 기억을 씁니다. 그곳의 다른 사람들도 제 답을 볼 수 있어요.
memory-shared-off = 그룹 채팅과 채널에서는 내 기억을 쓰지 않을게요.
memory-none-about = “{ $query }”에 대해 기억하는 것이 없어요.
memory-about = “{ $query }”에 대해 기억하는 것:
memory-empty = 아직 기억하는 것이 없어요. /remember 내용 으로 알려 주세요.
memory-no-page = 기억 목록은 { $pages }쪽까지만 있어요.
memory-page = 기억하는 것 ({ $pages }쪽 중 { $page }쪽, 모두 { $count }개):
memory-more = 더 보기: /memory page { $next }
memory-forget-hint = 지우려면 /forget ID
forget-which = 어떤 기억을 지울까요? /forget ID (ID는 /memory 에 있어요), 기억 전부는 /forget all, 나에 관한 모든 것은 /forget everything
forget-nothing = 기억하는 것이 없어요.
forget-nothing-at-all = 저장된 것이 아무것도 없어요.
forget-everything-ask = 저장된 모든 것을 지웁니다: 기억 { $memories }개, 대화 메시지 { $messages }개, 알림·예약 { $reminders }개, 보관한 문서 { $documents }개, 설정. 되돌릴 수 없어요(사본이 필요하면 먼저 /export). 계속하려면 /forget everything confirm 을 보내 주세요.
forget-everything-ask-shared = 저장된 모든 것(기억, 대화, 알림, 문서, 설정)을 지웁니다. 되돌릴 수 없어요. 계속하려면 /forget everything confirm 을 보내 주세요.
forget-everything-done = 완료: 저장된 모든 것을 지웠어요(기억 { $memories }개, 메시지 { $messages }개, 알림 { $reminders }개, 문서 { $documents }개, 설정).
forget-everything-done-shared = 완료: 저장된 모든 것을 지웠어요.
forget-all-ask = 기억 { $count }개를 모두 지웁니다. 계속하려면 /forget all confirm 을 보내 주세요.
forget-all-done = 완료: 기억 { $count }개를 모두 지웠어요.
forgotten-id = 지웠어요: 기억 `{ $id }`.
forgotten-text = 지웠어요: “{ $text }”.
forget-no-such = `{ $id }` 기억은 없어요. /memory 에서 ID를 확인하세요.
forget-not-an-id = 기억 ID가 아니에요. ID는 m3 같은 모양이고 /memory 에 있어요. 모두 지우려면 /forget all
export-done = 저장된 모든 내용이 파일에 있어요: 기억 { $memories }개, 메시지 { $messages }개, 리마인더와 설정.
export-caption = Hearth가 보관하는 나의 모든 데이터
remind-help =
    언제, 무엇을 알려 드릴지 말해 주세요. 예:
    - /remind 20분 후 피자 꺼내기
    - /remind 내일 오전 9시 치과 전화
    - /remind 2027-01-15 10:00 여권 갱신
    - /remind 평일 8시 스탠드업
    - /remind in 20 minutes take the pizza out
schedule-help =
    언제, 무엇을 할지 말해 주세요. 예:
    - /schedule 평일 7:30 오늘 리마인더 요약해 줘
    - /schedule 매주 월요일 9시 이번 주 우선순위 세 가지 제안해 줘
    - /schedule 내일 18:00 저녁 메뉴 추천해 줘
    답은 이 채팅으로 오며, 다른 질문처럼 내 기억과 노트를 참고합니다.
when-no-time = 언제 알려 드려야 할지 모르겠어요.
when-conflicting = 언제인지 모르겠어요: "{ $first }"와(과) "{ $second }"가 서로 다른 시간이에요.
when-invalid = "{ $phrase }"은(는) 쓸 수 있는 시간이나 날짜가 아니에요.
when-past = "{ $phrase }"은(는) 이미 지났어요.
when-repeat-without-time = 반복은 알겠는데 몇 시에 할까요? 예: 매일 7시
when-no-text = 언제인지는 알겠는데 무엇을 알려 드릴지 모르겠어요.
nothing-set = 아무것도 설정하지 않았어요.
reminder-which = 어떤 것인가요? /reminders 에 나오는 ID(r1, r2, ...)를 알려 주세요.
reminder-no-such = { $id } 리마인더가 없어요. /reminders 로 목록을 볼 수 있어요.
reminder-cancel-which = 어떤 것인가요? /reminders cancel ID (ID는 /reminders 에 있어요)
reminder-cancelled = 리마인더 { $id }을(를) 취소했어요.
reminders-none = 리마인더가 없어요.
schedules-none = 예약된 프롬프트가 없어요.
reminders-header = 내 리마인더:
schedules-header = 예약된 프롬프트:
reminder-paused-mark = (일시 중지)
reminders-recent = 지난 하루 동안 보낸 것 (/reminders snooze ID 10m 으로 다시 알림):
reminders-cancel-hint = 취소하려면 /reminders cancel ID
schedules-cancel-hint = 취소하려면 /schedules cancel ID, 일시 중지와 재개는 pause ID, resume ID
reminders-usage = /reminders 는 리마인더 목록을 보여 줘요. /reminders cancel ID, /reminders snooze ID 10m, /reminders pause ID, /reminders resume ID 로 바꿀 수 있어요.
reminder-not-repeating = { $id }은(는) 반복 리마인더가 아니에요. /reminders cancel { $id } 로 취소하세요.
reminder-paused = { $id }을(를) 일시 중지했어요. /reminders resume { $id } 로 다시 시작해요.
reminder-resumed = { $id }을(를) 다시 시작했어요: 다음 { $at } ({ $zone }).
snooze-unreadable = "{ $by }"을(를) 시간 길이로 읽지 못했어요. /reminders snooze { $id } 10m 처럼 써 주세요.
snooze-not-fired = { $id }은(는) 아직 울리지 않았어요({ $at } 예정). 다시 알림은 울린 뒤에 쓸 수 있어요.
snoozed = 💤 { $id } 다시 알림: { $at } ({ $zone }) — { $text }

## Voice notes
voice-off = 🎙 이 봇에는 음성 메시지가 설정되어 있지 않아요: 관리자가 음성 인식 모델(HEARTH_WHISPER_MODEL)을 설정하지 않았습니다. 글로 보내 주세요.
voice-too-large = 음성 메시지가 너무 커요({ $size }, 한도 { $limit }).
voice-too-large-after = 음성 메시지가 너무 커요(한도 { $limit }).
model-loading = 모델을 불러오는 중이에요. 1분쯤 걸릴 수 있어요…
memory-model-loading = 방금 시작해서 기억 모델을 불러오는 중이에요. 곧 답할게요…
voice-transcribing = 음성 메시지를 받아쓰는 중…
voice-download-failed = 음성 메시지를 내려받지 못했어요. 다시 보내 주세요.
voice-queued = 받아쓰기 대기 중: { $position }번째 순서입니다.
voice-no-words = 🎙 음성 메시지에서 말을 알아듣지 못했어요.
voice-unsupported = { $format } 오디오는 들을 수 없어요. 음성 메시지와 OGG/Opus 파일(.ogg, .opus)만 알아듣고, MP3, M4A, WAV, 영상 메시지는 아직 지원하지 않아요.
voice-corrupt = 오디오를 읽지 못했어요: 파일이 손상되었거나 OGG/Opus 음성 메시지가 아니에요.
voice-empty = 빈 음성 메시지예요.
voice-too-long = 음성 메시지가 너무 길어요: { $minutes }분까지 받아쓸 수 있어요.
voice-failed = 받아쓰는 중에 문제가 생겼어요. 다시 시도하거나 글로 보내 주세요.

## The model queue
queued = 모델을 기다리는 중: 대기 순서 { $position }번입니다.

## Tools and actions: the 🔧 lines under an answer, and confirmations
tool-unknown = 모델이 없는 도구를 요청했어요({ $name })
tool-ran = { $name } 실행함
tool-failed = { $name } 실패: { $error }
tool-declined = { $name } 보내지 않음: 취소하셨어요
tool-unconfirmed = { $name } 보내지 않음: 확인이 없었어요
tool-storage-failed = { $name } 실패: 저장소를 쓸 수 없어요
tool-checked-time = 시간을 확인함
tool-reminder-set = 알림 { $id } 설정: { $at }, { $text }
tool-reminder-failed = 알림을 설정하지 못함({ $why })
tool-listed-reminders = 알림 목록을 확인함
tool-reminder-cancelled = 알림 { $id } 취소함
tool-reminder-missing = 알림 { $id }을(를) 찾지 못함
tool-searched-memories = 기억에서 '{ $query }' 검색함
tool-remembered = 기억함: { $text }
tool-remember-failed = 기억하지 못함({ $error })
tool-searched-notes = 노트에서 '{ $query }' 검색함
confirm-prompt = **{ $name }**을(를) 실행할까요? 보낼 내용:
confirm-run = ✅ 실행
confirm-cancel = ✖ 취소

## Slash-command options (Discord)
arg-ask-prompt = 물어볼 내용
arg-ask-private = 나만 보는 답변(이때는 내 기억도 쓸 수 있어요)
arg-model = 사용할 모델
arg-remember = 기억할 내용
arg-memory = 검색할 단어(또는 on, off, shared on, shared off, page N)
arg-forget = 기억 ID, all 또는 everything
arg-notes = 검색할 단어(또는 on, off). 비우면 보관함 목록
arg-remind = 언제, 무엇을. 예: 내일 오전 9시 치과에 전화하기
arg-reminders = cancel ID, snooze ID 10m, pause ID, resume ID. 비우면 목록
arg-schedule = 언제와 프롬프트. 예: 매일 8시 하루 계획 세워 줘
arg-schedules = cancel ID, pause ID, resume ID. 비우면 목록
arg-timezone = IANA 시간대. 예: Asia/Seoul
arg-language = ko (한국어), en (English) 또는 auto

## Access
refused = 죄송해요, 이 비서는 개인용이라 사용자 목록에 있는 분만 쓸 수 있어요. 주인을 아신다면 사용자 ID { $id }을(를) { $setting }에 추가해 달라고 부탁하세요.

## /notes
notes-not-set-up = 설정된 노트가 없어요. 관리자가 `HEARTH_NOTES`를 Obsidian 보관함이나 Logseq 그래프로 지정할 수 있어요.
notes-now-off = 노트 사용을 껐어요: 답변에 관리자의 노트를 쓰지 않아요. /notes on 으로 다시 켤 수 있어요.
notes-now-on = 노트 사용을 켰어요: 도움이 될 때 답변에 관리자의 노트를 써요.
notes-nothing = 노트에서 “{ $query }”와(과) 맞는 내용이 없어요.
notes-search-failed = 지금은 노트 색인을 검색할 수 없어요. 문제는 기록해 두었어요.
notes-not-in-groups = 관리자의 노트는 그룹 채팅에서 쓰지 않아요. 개인 채팅에서 물어봐 주세요.
notes-none-shared = 관리자가 공유한 노트가 없어요.
notes-title = 노트
notes-off-mark = (답변에 사용 안 함: /notes on)
notes-on-mark = (답변에 사용 중: /notes off)
notes-not-indexed = 아직 색인 전
notes-indexed-at = { $at }에 색인함
notes-counts = 노트 { $notes }개, 단락 { $passages }개
notes-failed-files = 파일 { $count }개를 읽지 못했어요:
notes-failed-more = … 그리고 { $count }개 더
notes-search-hint = /notes 검색어 로 검색할 수 있어요.

## Taps on a confirmation's buttons
decided-running = 실행할게요…
decided-declined = 취소했어요: 아무것도 보내지 않았어요.
decided-not-yours = 요청한 사람만 답할 수 있어요.
decided-expired = 요청이 만료되었어요: 아무것도 보내지 않았어요.
decided-outcome-approved = ✅ 확인됨
decided-outcome-declined = ✖ 취소됨
decided-outcome-expired = ⌛ 만료됨: 아무것도 보내지 않았어요.

## Where a memory came from, in /memory listings
memory-source-explicit = 직접 알려 줌
memory-source-extracted = 대화에서
memory-source-imported = 가져옴

## Endings of an answer
answer-sources = 출처: { $sources }
answer-empty = (모델이 빈 답을 보냈어요.)
answer-stopped = _(중단됨: 봇이 종료되는 중이에요)_

## Private answers asked for in a shared chat
private-sent = 🔒 개인 정보라서 개인 메시지로 보내 드렸어요.
private-failed = 🔒 개인 정보라서 여기에는 보여 드리지 않아요. 지금은 개인 메시지도 보낼 수 없었어요. 저와의 개인 대화에서 다시 물어봐 주세요.
private-hint-discord = 🔒 개인 정보라서 여기에는 보여 드리지 않아요. Discord에서 DM을 보낼 수 없어요. 이 서버 멤버의 DM을 허용하거나, 슬래시 명령을 써 주세요. 그 답은 본인에게만 보여요.
private-hint-telegram = 🔒 개인 정보라서 여기에는 보여 드리지 않아요. 저와 개인 대화를 열고(제 이름을 누른 뒤 시작) 거기서 물어봐 주세요.

## Photos and documents
files-off = 📎 이 봇은 파일을 읽을 수 없어요. 질문을 글로 보내 주세요.
photo-default-prompt = 이 사진에 무엇이 있나요?
photo-name = 사진
document-name = 문서
document-summarize = 문서 { $name }을(를) 요약해 주세요: 어떤 문서인지, 주요 내용, 해야 할 일이 있다면 그것까지.
vision-unavailable = 🖼 사용 중인 모델({ $model })은 사진을 볼 수 없어요. 관리자가 HEARTH_VISION_MODEL에 사진을 볼 수 있는 모델을 설정할 수 있어요. 예: `ollama pull qwen2.5vl:3b`
file-too-large = { $name }이(가) 너무 커요({ $size }, 한도 { $limit }).
file-download-failed = { $name }을(를) 내려받지 못했어요. 다시 보내 주세요.
file-unsupported = { $name }을(를) 읽을 수 없어요: { $format } 형식은 지원하지 않아요. 사진(PNG, JPEG, WebP, GIF)과 문서(PDF, .txt, .md, .csv, .json, .html, .docx)를 읽을 수 있어요.
file-corrupt = { $name }을(를) 읽지 못했어요: 파일이 손상되었거나 이름과 내용이 달라요.
file-expands = { $name }을(를) 읽지 못했어요: 압축을 풀면 지나치게 커져서(압축 폭탄?) 멈췄어요.
image-too-many-pixels = 사진이 너무 커서 열 수 없어요({ $width }×{ $height } 픽셀). 더 작은 사진을 보내 주세요.
document-encrypted = 🔒 { $name }은(는) 암호가 걸려 있어서 읽을 수 없어요. 암호 없는 사본을 보내 주세요.
document-no-text = { $name }에는 읽을 수 있는 글자가 없어요. 스캔한 문서라면 텍스트 층이 없어요(페이지 이미지 속 글자는 읽지 못해요). 텍스트 버전을 보내 주세요.
document-reading = { $name } 읽는 중…
document-cut = { $name }이(가) 너무 길어서 앞부분만 읽었어요.
notes-add-nothing = 먼저 문서(PDF, Word, HTML, 텍스트 파일)를 보내 주세요. 그다음 /notes add 로 내 문서에 보관할 수 있어요.
notes-add-done = 📄 { $name }을(를) 내 문서에 보관했어요(구절 { $passages }개). 이제부터 답할 때 참고할게요. /export 에 포함되고 /forget all 로 지워져요.
notes-filed = 내 문서({ $count }개): { $names }
forget-all-ask-documents = 저장된 기억 { $count }개와 보관한 문서 { $documents }개를 모두 지워요. 계속하려면 /forget all confirm 을 보내 주세요.
forget-documents-done = 보관한 문서 { $documents }개도 지웠어요.
