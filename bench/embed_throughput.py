"""Python baseline for Hearth's embedding throughput (BENCHMARKS.md).

Embeds every LoCoMo turn, written "[session date] Speaker: text" as Hearth indexes it, with
onnxruntime on the same int8 all-MiniLM-L6-v2 model and tokenizer, one intra-op thread, batches of
32 in dataset order, mean pooling and L2 normalisation; prints turns per second. Then the same
with the turns sorted by length first (what Hearth's embedder does with a large call), so
the comparison is like for like.

Usage: python3 bench/embed_throughput.py PATH/TO/locomo10.zip MODELS_DIR
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
    texts = turns(zip_path)
    tokenizer = Tokenizer.from_file(f"{models}/minilm/tokenizer.json")
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(f"{models}/minilm/model.onnx", options, providers=["CPUExecutionProvider"])
    run(tokenizer, session, texts, "dataset order")
    run(tokenizer, session, sorted(texts, key=len), "sorted by length")


def run(tokenizer, session, texts, label):
    start = time.perf_counter()
    for i in range(0, len(texts), 32):
        batch = tokenizer.encode_batch(texts[i : i + 32])
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        types = np.zeros_like(ids)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    elapsed = time.perf_counter() - start
    print(f"python onnxruntime {ort.__version__}, {label}: {len(texts) / elapsed:.0f} turns/s ({len(texts)} turns in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
