#!/usr/bin/env python3
"""Checks by hand that a model folder written by PromptCL (`CLIPModel.save`: `promptcl pretrain --out DIR`) is a
Hugging Face CLIP folder: transformers loads it with CLIPModel.from_pretrained and CLIPTokenizer.from_pretrained
without missing or unexpected weights, and its get_image_features / get_text_features equal what `promptcl embed
--model DIR` computes on the same inputs. Developers only; CI never runs it (CI has no torch).

    swift build --product promptcl
    .build/debug/promptcl pretrain --config configs/pretrain-tiny.toml --out /tmp/tiny-clip --set train.epochs=1
    python3 Tests/Fixtures/check_saved_model.py /tmp/tiny-clip [--promptcl .build/debug/promptcl]

Prints the largest absolute and relative differences of both embeddings; exits 1 when a relative difference
(max |a - b| / max |b|) exceeds 1e-4, or when transformers reports missing or unexpected weights.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CAPTIONS = [
    "a large red circle in the upper left",
    "at the top, a small blue square",
    "a photo of a small green triangle in the centre",
    "in the lower right, a large orange diamond",
    "a photo of a t-shirt",
    "an extremely long caption that keeps going with many words so that it cannot fit into a short context "
    "and has to be cut before the end of text token, which is kept",
]


def features(output):
    """transformers 5 returns a model output from get_*_features, older versions a tensor."""
    return output if torch.is_tensor(output) else output.pooler_output


def relative(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the folder PromptCL wrote")
    parser.add_argument("--promptcl", default=os.path.join(ROOT, ".build", "debug", "promptcl"),
                        help="the promptcl binary (default: .build/debug/promptcl)")
    arguments = parser.parse_args()

    model, loading = CLIPModel.from_pretrained(arguments.model, output_loading_info=True)
    model.eval()
    problems = {key: value for key, value in loading.items() if value and key != "error_msgs"}
    print(f"transformers loaded {arguments.model}: missing/unexpected/mismatched weights: {problems or 'none'}")
    tokenizer = CLIPTokenizer.from_pretrained(arguments.model)
    config = model.config
    context = config.text_config.max_position_embeddings
    size = config.vision_config.image_size

    torch.manual_seed(0)
    pixels = torch.randn(5, 3, size, size)
    ids = tokenizer(CAPTIONS, padding="max_length", truncation=True, max_length=context, return_tensors="pt")
    with torch.no_grad():
        image = features(model.get_image_features(pixel_values=pixels))
        text = features(model.get_text_features(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"]))

    with tempfile.TemporaryDirectory() as scratch:
        images_file = os.path.join(scratch, "images.safetensors")
        captions_file = os.path.join(scratch, "captions.txt")
        out_file = os.path.join(scratch, "embeds.safetensors")
        save_file({"pixel_values": pixels.contiguous()}, images_file)
        with open(captions_file, "w") as handle:
            handle.write("\n".join(CAPTIONS) + "\n")
        subprocess.run([arguments.promptcl, "embed", "--model", arguments.model, "--images", images_file,
                        "--texts", captions_file, "--out", out_file], check=True)
        ours = load_file(out_file)

    failed = bool(problems)
    for name, reference in (("image_embeds", image), ("text_embeds", text)):
        difference = (ours[name] - reference).abs().max().item()
        error = relative(ours[name], reference)
        print(f"{name} {tuple(reference.shape)}: max |promptcl - transformers| = {difference:.3e}, relative {error:.3e}")
        failed |= error > 1e-4
    print("FAILED" if failed else "ok: transformers and promptcl embed agree")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
