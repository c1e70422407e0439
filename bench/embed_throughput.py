"""Python baseline for Hearth's embedding throughput (BENCHMARKS.md).

Embeds every LoCoMo turn, written "[session date] Speaker: text" as Hearth indexes it, with
onnxruntime on the same int8 all-MiniLM-L6-v2 model and tokenizer, one intra-op thread, batches of
32 in dataset order, mean pooling and L2 normalisation; prints turns per second. Then the same
with the turns sorted by length first (what Hearth's embedder does with a large call), so
the comparison is like for like; and, for models Hearth runs itself, with Hearth's own
batching (sorted by token count, runs of at most 256 tokens).

Usage: python3 bench/embed_throughput.py PATH/TO/locomo10.zip MODELS_DIR [MODEL...]
(model folders under MODELS_DIR; default minilm, e.g. `minilm use-multilingual`)
Needs: onnxruntime==1.24.4 tokenizers numpy (bench/run-python-baseline.sh installs them).
"""
import json
import sys
import time
import zipfile

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def turns(zip_path):
    out = []
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".json")):
            data = json.loads(z.read(name))
            n = 1
            while n <= 40:
                session = data.get(f"session_{n}")
                if session:
                    date = data.get(f"session_{n}_date_time", "")
                    out += [f"[{date}] {t['speaker']}: {t['text']}" for t in session]
                n += 1
    return out


def main():
    zip_path, models = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or ["minilm"]
    texts = turns(zip_path)
    for name in names:
        config = json.load(open(f"{models}/{name}/config.json"))
        tokenizer = Tokenizer.from_file(f"{models}/{name}/tokenizer.json")
        tokenizer.enable_truncation(256)
        tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(f"{models}/{name}/model.onnx", options, providers=["CPUExecutionProvider"])
        run(name, tokenizer, session, texts, "dataset order")
        run(name, tokenizer, session, sorted(texts, key=len), "sorted by length")
        if json.load(open(f"{models}/{name}/tokenizer.json"))["model"]["type"] == "Unigram":
            run_budget(name, tokenizer, session, texts)


def embed(session, inputs, ids, mask):
    """One model run: unit vectors for a padded batch of token ids."""
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inputs:
        feed["token_type_ids"] = np.zeros_like(ids)
    out = session.run(None, feed)[0]
    # Token vectors are mean-pooled over the real tokens; a model that pools itself
    # (the Universal Sentence Encoder) gives one vector per text.
    pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdims=True) if out.ndim == 3 else out
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def run(name, tokenizer, session, texts, label):
    inputs = {i.name for i in session.get_inputs()}
    start = time.perf_counter()
    for i in range(0, len(texts), 32):
        batch = tokenizer.encode_batch(texts[i : i + 32])
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        embed(session, inputs, ids, mask)
    elapsed = time.perf_counter() - start
    print(f"python onnxruntime {ort.__version__}, {name}, {label}: {len(texts) / elapsed:.0f} turns/s ({len(texts)} turns in {elapsed:.1f} s)")


def run_budget(name, tokenizer, session, texts, budget=256):
    """Hearth's batching for models it runs itself (the default Universal Sentence Encoder):
    every text tokenized, sorted by token count, and run in batches of at most `budget` tokens
    (rows times the longest row). Not what a Python user would write by default; here so
    that the side by side also shows Python doing the same."""
    inputs = {i.name for i in session.get_inputs()}
    start = time.perf_counter()
    # Real tokens only (the tokenizer pads a whole encode_batch to its longest text).
    encoded = [e.ids[: sum(e.attention_mask)] for e in tokenizer.encode_batch(texts)]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * len(encoded[i]) > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    for batch in batches:
        width = max(len(encoded[i]) for i in batch)
        ids = np.full((len(batch), width), tokenizer.padding["pad_id"], dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            n = len(encoded[i])
            ids[row, :n] = encoded[i]
            mask[row, :n] = 1
        embed(session, inputs, ids, mask)
    elapsed = time.perf_counter() - start
    print(f"python onnxruntime {ort.__version__}, {name}, sorted by tokens, runs of <= {budget} tokens (Hearth's batching): {len(texts) / elapsed:.0f} turns/s ({len(texts)} turns in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
