#!/usr/bin/env python3
"""Writes the parity fixtures of MPL's remove-then-insert sites (PromptPlan.Site.removed) that
Tests/CLIPTests/CLIPParityTests read: on the tiny models make_model_fixtures.py wrote, a prompted forward whose
deeper inserts first drop the last rows of the prompt block, the contrastive loss, and the prompt gradients.

Run by developers after make_model_fixtures.py (needs torch, transformers, safetensors):
    python3 Tests/Fixtures/make_mpl_fixtures.py

Writes Tests/Fixtures/models/<name>/mpl-parity.safetensors in parity.safetensors' format (no weight
gradients). The reference is make_model_fixtures.py's layer-by-layer forward; for prompts after the patches,
the block is the end of the sequence and the removal is also checked against MPL's official form,
x = cat([x[:-r], P]) (Zhenhan-Huang/Modular-Prompt-Learning, clip/model.py, ResidualAttentionBlock_MPL).
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPModel, CLIPTokenizer

import make_model_fixtures as reference

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = {
    # Prompts after the class token: 3 tokens at layer 0, then 2 removed and 2 per-sample ones added.
    "tiny-a": dict(
        batch=4,
        vision_plan=dict(placement="afterClassToken",
                         sites=[dict(layer=0, tokens=3, mode="insert"),
                                dict(layer=1, tokens=2, mode="insert", removed=2, per_sample=True)]),
        text_plan=dict(sites=[dict(layer=0, tokens=2, mode="insert"), dict(layer=1, tokens=2, mode="replace")]),
    ),
    # MPL's layout: prompts after the patches, n_ctx 2, add 2 (4 tokens) per deeper layer removing 1, then 2
    # (blocks of 2, 5, 7 tokens); the text tower as MaPLe's (insert, then replace).
    "tiny-b": dict(
        batch=3,
        vision_plan=dict(placement="afterPatches",
                         sites=[dict(layer=0, tokens=2, mode="insert"),
                                dict(layer=1, tokens=4, mode="insert", removed=1),
                                dict(layer=2, tokens=4, mode="insert", removed=2, per_sample=True)]),
        text_plan=dict(sites=[dict(layer=0, tokens=2, mode="insert"), dict(layer=1, tokens=2, mode="replace"),
                              dict(layer=2, tokens=2, mode="replace")]),
    ),
}


def check_official_removal(width):
    """For a block at the end of the sequence, apply_site's remove-then-insert is MPL's cat([x[:-r], P])."""
    torch.manual_seed(7)
    x, values = torch.randn(2, 9, width), torch.randn(3, width)
    site = dict(layer=1, tokens=3, mode="insert", removed=2)
    ours, count = reference.apply_site(x, site, values, start=5, existing=4)
    official = torch.cat([x[:, :x.shape[1] - 2], values.expand(2, -1, -1)], dim=1)
    assert count == 5 and torch.equal(ours, official)


def write_case(name, case, seed):
    folder = os.path.join(HERE, "models", name)
    model = CLIPModel.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = CLIPTokenizer.from_pretrained(reference.VOCABULARY)
    # The reloaded model must be the one the plain fixtures were written from.
    images = load_file(os.path.join(folder, "images.safetensors"))["pixel_values"]
    with torch.no_grad():
        plain = reference.vision_forward(model, images, dict(placement="afterClassToken", sites=[]), [])
    expected = load_file(os.path.join(folder, "embeddings.safetensors"))["image_embeds"]
    assert torch.allclose(plain, expected, atol=1e-5), (plain - expected).abs().max()
    spec = dict(reference.MODELS[name], batch=case["batch"], vision_plan=case["vision_plan"],
                text_plan=case["text_plan"], weight_gradients=False)
    torch.manual_seed(seed)
    batch = spec["batch"]
    vision, text = spec["vision"], spec["text"]
    pixels = torch.randn(batch, 3, vision["image_size"], vision["image_size"])
    ids = tokenizer(reference.CAPTIONS[:batch], padding="max_length", truncation=True,
                    max_length=text["max_position_embeddings"], return_tensors="pt")["input_ids"]

    def make_prompts(plan, width):
        return [torch.randn(*((batch,) if site.get("per_sample") else ()), site["tokens"], width).requires_grad_(True)
                for site in plan["sites"]]

    vision_prompts = make_prompts(spec["vision_plan"], vision["hidden_size"])
    text_prompts = make_prompts(spec["text_plan"], text["hidden_size"])
    image = reference.vision_forward(model, pixels, spec["vision_plan"], vision_prompts)
    caption = reference.text_forward(model, ids, spec["text_plan"], text_prompts)
    loss = reference.contrastive_loss(model, image, caption)
    model.zero_grad()
    loss.backward()
    tensors = {"pixel_values": pixels, "input_ids": ids, "image_embeds": image.detach(),
               "text_embeds": caption.detach(), "loss": loss.detach().reshape([])}
    for prefix, prompts in (("vision", vision_prompts), ("text", text_prompts)):
        for index, prompt in enumerate(prompts):
            tensors[f"{prefix}.site{index}"] = prompt.detach()
            tensors[f"grad.{prefix}.site{index}"] = prompt.grad
    plans = dict(vision=spec["vision_plan"], text=spec["text_plan"])
    path = os.path.join(folder, "mpl-parity.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"plans": json.dumps(plans), "weight_gradients": "false"})
    print(f"{name}: loss {loss.item():.6f}, {os.path.getsize(path) / 1024:.0f} KiB in {path}")


def main():
    check_official_removal(width=6)
    for seed, (name, case) in enumerate(CASES.items()):
        write_case(name, case, seed=400 + seed)


if __name__ == "__main__":
    main()
