"""Writes a LLaVA-style vision projector (mmproj) GGUF with random weights, sized for a text
model with `--n-embd` dimensions, so llama.cpp's multimodal path can be exercised end to end
without a real vision model (none installs from the package registries this project can
reach). Its descriptions are meaningless by construction: it
proves that image bytes are decoded, encoded into image tokens and evaluated, not understanding.

    python3 make_test_mmproj.py OUT.gguf --n-embd 576
"""
import argparse

import numpy as np
import gguf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--n-embd", type=int, required=True, help="the text model's embedding size")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image_size, patch, width, ffn, blocks, heads = 112, 14, 64, 128, 2, 2
    n_pos = (image_size // patch) ** 2 + 1

    w = gguf.GGUFWriter(args.out, "clip")
    w.add_string("general.name", "hearth-test-projector")
    w.add_description("random LLaVA-style projector for tests of the image path")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_uint32("clip.vision.image_size", image_size)
    w.add_uint32("clip.vision.patch_size", patch)
    w.add_uint32("clip.vision.embedding_length", width)
    w.add_uint32("clip.vision.feed_forward_length", ffn)
    w.add_uint32("clip.vision.projection_dim", args.n_embd)
    w.add_uint32("clip.vision.block_count", blocks)
    w.add_uint32("clip.vision.attention.head_count", heads)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.48145466, 0.4578275, 0.40821073])
    w.add_array("clip.vision.image_std", [0.26862954, 0.26130258, 0.27577711])
    w.add_bool("clip.use_gelu", True)

    def t(name, *shape, scale=0.02):
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    def ones(name, n):
        w.add_tensor(name, np.ones(n, dtype=np.float32))

    def zeros(name, n):
        w.add_tensor(name, np.zeros(n, dtype=np.float32))

    t("v.class_embd", width)
    t("v.patch_embd.weight", width, 3, patch, patch)
    t("v.position_embd.weight", n_pos, width)
    ones("v.pre_ln.weight", width)
    zeros("v.pre_ln.bias", width)
    for b in range(blocks):
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            t(f"v.blk.{b}.{name}.weight", width, width)
            zeros(f"v.blk.{b}.{name}.bias", width)
        for name in ("ln1", "ln2"):
            ones(f"v.blk.{b}.{name}.weight", width)
            zeros(f"v.blk.{b}.{name}.bias", width)
        t(f"v.blk.{b}.ffn_up.weight", ffn, width)
        zeros(f"v.blk.{b}.ffn_up.bias", ffn)
        t(f"v.blk.{b}.ffn_down.weight", width, ffn)
        zeros(f"v.blk.{b}.ffn_down.bias", width)
    t("mm.0.weight", args.n_embd, width)
    zeros("mm.0.bias", args.n_embd)
    t("mm.2.weight", args.n_embd, args.n_embd)
    zeros("mm.2.bias", args.n_embd)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
