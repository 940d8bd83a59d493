#!/usr/bin/env python3
"""Writes the fixtures of Tests/CLIPTests (SafetensorsTests, CLIPConfigTests). Developers run it; CI does not.

    pip install torch safetensors numpy transformers     # used: torch 2.15, safetensors 0.8, transformers 5.23
    python3 Tests/Fixtures/make_safetensors_fixtures.py  # from the repository root; rewrites the files below

Writes, each a few KB:
  safetensors/dtypes.safetensors  F32, F16, BF16, F64, I64, I32 tensors with special values (signed zeros,
                                  subnormals, extremes, infinities, NaNs), a scalar [] and an empty [0, 3],
                                  written by the Python safetensors library
  safetensors/dtypes.json         what each tensor must read as: Float32 bit patterns (JSON has no NaN or
                                  infinity), Int64 values, dtype, shape, and the file's metadata
  configs/tiny_quick_gelu.json    config.json of a small transformers.CLIPConfig (save_pretrained)
  configs/tiny_gelu.json          another, with other shapes, hidden_act "gelu", layer_norm_eps 1e-6
  configs/expected.json           how transformers reads those two and the hand-written
                                  configs/clip-vit-base-patch32.json (hub layout with legacy *_dict keys)
The Float32 expectations come from numpy (F16, F64: numpy keeps NaN payloads, torch's half-to-float
does not) and torch (BF16).
"""
import json
import os
import shutil
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig

FIXTURES = os.path.dirname(os.path.abspath(__file__))


def bits16(values, dtype):
    return torch.tensor([v - 65536 if v >= 32768 else v for v in values], dtype=torch.int16).view(dtype)


def float32_bits(array):
    return [int(b) for b in np.asarray(array, dtype=np.float32).view(np.uint32).ravel()]


def safetensors_fixtures():
    f16_bits = [0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3555,
                0x7C00, 0xFC00, 0x7E00, 0xFE01]
    bf16_bits = [0x0000, 0x8000, 0x3F80, 0xC0A0, 0x7F7F, 0x0001, 0x807F, 0x0080, 0x3EAB,
                 0x7F80, 0xFF80, 0x7FC0, 0xFFC1]
    f32 = np.array([0.0, -0.0, 1.5, -2.25, 3.4028235e38, 1.1754944e-38, 1e-45, -1e-40,
                    np.inf, -np.inf, np.nan, 1.0 / 3.0], dtype=np.float32).reshape(3, 4)
    f64 = np.array([0.1, -0.0, 1e300, -1e300, 1e-50, 1e-40, 16777217.0, 1.0 / 3.0, 2.0 ** -149 * 1.5,
                    np.inf, np.nan, 65504.0], dtype=np.float64).reshape(2, 2, 3)
    tensors = {
        "f32": torch.from_numpy(f32),
        "f16": bits16(f16_bits, torch.float16).reshape(3, 5),
        "bf16": bits16(bf16_bits, torch.bfloat16),
        "f64": torch.from_numpy(f64),
        "i64": torch.tensor([0, -1, 2 ** 62, -2 ** 63, 2 ** 63 - 1, 49407], dtype=torch.int64).reshape(2, 3),
        "i32": torch.tensor([-2 ** 31, 2 ** 31 - 1, 0, 7], dtype=torch.int32),
        "scalar": torch.tensor(2.6592, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    metadata = {"format": "pt", "purpose": "PromptCL safetensors reader fixture"}
    folder = os.path.join(FIXTURES, "safetensors")
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "dtypes.safetensors"), metadata=metadata)

    with np.errstate(over="ignore"):  # 1e300 overflows to infinity, as it must
        f64_as_f32 = f64.astype(np.float32)
    expected_bits = {
        "f32": float32_bits(f32),
        "f16": float32_bits(np.array(f16_bits, dtype=np.uint16).view(np.float16).astype(np.float32)),
        "bf16": [b & 0xFFFFFFFF for b in tensors["bf16"].float().view(torch.int32).tolist()],
        "f64": float32_bits(f64_as_f32),
        "scalar": float32_bits(tensors["scalar"].numpy()),
        "empty": [],
    }
    dtypes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
              torch.int64: "I64", torch.int32: "I32"}
    expected = {"metadata": metadata, "tensors": {}}
    for name, tensor in tensors.items():
        entry = {"dtype": dtypes[tensor.dtype], "shape": list(tensor.shape)}
        if name in expected_bits:
            entry["float32_bits"] = expected_bits[name]
        else:
            entry["int64"] = tensor.ravel().tolist()
        expected["tensors"][name] = entry
    with open(os.path.join(folder, "dtypes.json"), "w") as file:
        json.dump(expected, file, indent=1, sort_keys=True)
        file.write("\n")


def config_fixtures():
    folder = os.path.join(FIXTURES, "configs")
    tiny = {
        "tiny_quick_gelu": CLIPConfig(
            text_config=dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                             num_attention_heads=4, max_position_embeddings=16),
            vision_config=dict(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=2,
                               image_size=30, patch_size=10),
            projection_dim=16, logit_scale_init_value=2.0),
        "tiny_gelu": CLIPConfig(
            text_config=dict(vocab_size=64, hidden_size=16, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, max_position_embeddings=12, hidden_act="gelu",
                             layer_norm_eps=1e-6, bos_token_id=62, eos_token_id=63, pad_token_id=0),
            vision_config=dict(hidden_size=20, intermediate_size=80, num_hidden_layers=2, num_attention_heads=5,
                               num_channels=1, image_size=32, patch_size=8, hidden_act="gelu",
                               layer_norm_eps=1e-6),
            projection_dim=8, logit_scale_init_value=1.5),
    }
    for name, config in tiny.items():
        with tempfile.TemporaryDirectory() as directory:
            config.save_pretrained(directory)
            shutil.copy(os.path.join(directory, "config.json"), os.path.join(folder, name + ".json"))

    expected = {}
    for name in sorted(list(tiny) + ["clip-vit-base-patch32"]):
        config = CLIPConfig.from_json_file(os.path.join(folder, name + ".json"))
        text, vision = config.text_config, config.vision_config
        encoder = lambda c: {"hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
                             "num_attention_heads": c.num_attention_heads, "num_hidden_layers": c.num_hidden_layers,
                             "layer_norm_eps": c.layer_norm_eps, "hidden_act": c.hidden_act}
        expected[name] = {
            "text": dict(encoder(text), vocab_size=text.vocab_size,
                         max_position_embeddings=text.max_position_embeddings, bos_token_id=text.bos_token_id,
                         eos_token_id=text.eos_token_id, pad_token_id=text.pad_token_id),
            "vision": dict(encoder(vision), image_size=vision.image_size, patch_size=vision.patch_size,
                           num_channels=vision.num_channels),
            "projection_dim": config.projection_dim,
            "logit_scale_init_value": config.logit_scale_init_value,
        }
    with open(os.path.join(folder, "expected.json"), "w") as file:
        json.dump(expected, file, indent=1, sort_keys=True)
        file.write("\n")


if __name__ == "__main__":
    safetensors_fixtures()
    config_fixtures()
