"""faster-whisper baseline for the voice benchmark: the same notes, the same tiny.en weights
(the CTranslate2 copy Hearth's ggml file was converted from), the same thread count, greedy
decoding without previous-text conditioning, like Hearth. Decoding (PyAV) is included, as in
Hearth's pipeline.

Usage: python3 bench/voice_baseline.py NOTES_DIR CT2_MODEL_DIR THREADS [LANGUAGE]
(LANGUAGE other than en: the error is the character error rate, as Hearth's benchmark reports it.)
"""

import os
import resource
import sys
import time

from faster_whisper import WhisperModel


def words(text):
    cleaned = ["".join(c for c in w if c.isalnum() or c == "'").lower() for w in text.split()]
    return [w for w in cleaned if w]


def edit_rate(a, b):
    """Edit distance between the sequences, over the length of the first."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        previous, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            current = row[j]
            row[j] = previous if a[i - 1] == b[j - 1] else 1 + min(previous, row[j], row[j - 1])
            previous = current
    return row[len(b)] / max(1, len(a))


def wer(said, heard):
    return edit_rate(words(said), words(heard))


def cer(said, heard):
    return edit_rate([c for c in said.lower() if c.isalnum()], [c for c in heard.lower() if c.isalnum()])


def main():
    notes_dir, model_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    language = sys.argv[4] if len(sys.argv) > 4 else "en"
    measure, rate = ("wer", wer) if language == "en" else ("cer", cer)
    started = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type="float32", cpu_threads=threads)
    load = time.perf_counter() - started
    notes = sorted((f for f in os.listdir(notes_dir) if f.endswith(".ogg")), key=lambda f: int(f[:-4]))
    audio_total = pipeline_total = errors = 0.0
    total_words = 0
    name = os.path.basename(os.path.normpath(model_dir))
    print(f"faster-whisper (CTranslate2, {name} float32, language {language}, {threads} threads, greedy):")
    for name in notes:
        path = os.path.join(notes_dir, name)
        said = open(path[:-4] + ".txt").read()
        t = time.perf_counter()
        segments, info = model.transcribe(
            path, language=language, beam_size=1, best_of=1, temperature=0.0,
            condition_on_previous_text=False, vad_filter=False,
        )
        heard = " ".join(s.text.strip() for s in segments)
        elapsed = time.perf_counter() - t
        error = rate(said, heard)
        n = len(said.split()) if language == "en" else sum(c.isalnum() for c in said)
        errors += error * n
        total_words += n
        audio_total += info.duration
        pipeline_total += elapsed
        print(f"  {info.duration:5.1f} s audio  {elapsed * 1000:7.0f} ms  RTF {info.duration / elapsed:5.1f}x  "
              f"{measure.upper()} {error * 100:5.1f}%  {heard!r}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    note_set = os.path.basename(os.path.normpath(notes_dir))
    print(f"SUMMARY faster-whisper set={note_set} notes={len(notes)} audio_s={audio_total:.1f} pipeline_s={pipeline_total:.2f} "
          f"rtf={audio_total / pipeline_total:.1f} {measure}={errors / max(1, total_words) * 100:.1f} "
          f"load_ms={load * 1000:.0f} peak_rss_mib={peak:.0f}")


if __name__ == "__main__":
    main()
