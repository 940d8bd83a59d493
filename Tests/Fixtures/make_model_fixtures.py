#!/usr/bin/env python3
"""Writes the CLIP parity fixtures that Tests/CLIPTests read: random-weight transformers CLIPModels with
deep prompts, their embeddings, the contrastive loss, and its gradients.

Run by developers, never by CI (CI has no torch):
    pip install torch transformers safetensors
    python3 Tests/Fixtures/make_model_fixtures.py        (or make_fixtures.py, which runs every fixture script)

Needs Tests/Fixtures/small-vocabulary/ (written by make_tokenizer_fixtures.py). For each model it writes
Tests/Fixtures/models/<name>/:
    config.json, model.safetensors      transformers' save_pretrained (tiny-b stored as float16)
    vocab.json, merges.txt              the small CLIP vocabulary (1002 ids)
    captions.txt, images.safetensors    inputs of `promptcl embed` (pixel_values, already normalised)
    embeddings.safetensors              what transformers' get_image_features / get_text_features return for them
    parity.safetensors                  prompted forward and backward (see write_parity), plan in __metadata__

The prompted forward below is the reference that PromptCL's towers must match; it calls transformers' own
modules layer by layer and checks that, with no prompts, it equals get_image_features / get_text_features.
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
VOCABULARY = os.path.join(HERE, "small-vocabulary")

CAPTIONS = [
    "a photo of a red circle on a white background",
    "two blue squares, side by side",
    "A GREEN triangle in the upper-left corner!",
    "an extremely long caption that keeps going with many words so that it cannot fit into the tiny context "
    "of these test models and has to be cut before the end of text token",
    "yellow star",
    "the number 42 painted in black",
]

MODELS = {
    # quick_gelu, prompts after the class token, text prompts from layer 0, float32 weights.
    "tiny-a": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                    image_size=32, patch_size=8, hidden_act="quick_gelu"),
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  max_position_embeddings=16, hidden_act="quick_gelu"),
        projection_dim=24, dtype=torch.float32, batch=4, weight_gradients=True,
        vision_plan=dict(placement="afterClassToken",
                         sites=[dict(layer=0, tokens=3, mode="insert"), dict(layer=1, tokens=3, mode="replace")]),
        text_plan=dict(sites=[dict(layer=0, tokens=2, mode="insert"), dict(layer=1, tokens=2, mode="add")]),
    ),
    # gelu, prompts after the patches, a second insert deeper, per-sample prompts, text prompts starting
    # at layer 1, float16 weights (the loader converts them).
    "tiny-b": dict(
        vision=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=3,
                    image_size=24, patch_size=6, hidden_act="gelu"),
        text=dict(hidden_size=40, intermediate_size=80, num_hidden_layers=3, num_attention_heads=5,
                  max_position_embeddings=24, hidden_act="gelu"),
        projection_dim=32, dtype=torch.float16, batch=3, weight_gradients=False,
        vision_plan=dict(placement="afterPatches",
                         sites=[dict(layer=0, tokens=2, mode="insert"), dict(layer=1, tokens=1, mode="insert"),
                                dict(layer=2, tokens=3, mode="add", per_sample=True)]),
        text_plan=dict(sites=[dict(layer=1, tokens=3, mode="insert"), dict(layer=2, tokens=3, mode="replace")]),
    ),
}


def encoder_layer(layer, x, causal):
    """One CLIPEncoderLayer written out: pre-LN attention with explicit (optionally causal) softmax, then MLP."""
    batch, tokens, width = x.shape
    attention = layer.self_attn
    heads = attention.num_heads
    head = width // heads
    h = layer.layer_norm1(x)

    def split(t):
        return t.view(batch, tokens, heads, head).transpose(1, 2)

    q, k, v = split(attention.q_proj(h)), split(attention.k_proj(h)), split(attention.v_proj(h))
    scores = (q @ k.transpose(-1, -2)) * attention.scale
    if causal:
        future = torch.triu(torch.ones(tokens, tokens, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, tokens, width)
    x = x + attention.out_proj(o)
    return x + layer.mlp(layer.layer_norm2(x))


def apply_site(x, site, values, start, existing):
    """The prompt block rows start at `start`; `existing` tokens are there before this site. An insert may first
    remove the block's last `removed` rows (MPL)."""
    batch = x.shape[0]
    values = values if site.get("per_sample") else values.unsqueeze(0).expand(batch, -1, -1)
    if site["mode"] == "insert":
        at = start + existing
        kept = at - site.get("removed", 0)
        return torch.cat([x[:, :kept], values, x[:, at:]], dim=1), kept - start + site["tokens"]
    block = x[:, start:start + existing]
    new = values if site["mode"] == "replace" else block + values
    return torch.cat([x[:, :start], new, x[:, start + existing:]], dim=1), existing


def vision_forward(model, pixels, plan, prompts):
    tower = model.vision_model
    x = tower.embeddings(pixels)
    start = 1 if plan["placement"] == "afterClassToken" else x.shape[1]
    sites = {site["layer"]: (site, prompts[i]) for i, site in enumerate(plan["sites"])}
    count = 0
    if 0 in sites:
        x, count = apply_site(x, sites[0][0], sites[0][1], start, count)
    x = tower.pre_layrnorm(x)
    for index, layer in enumerate(tower.encoder.layers):
        if index > 0 and index in sites:
            x, count = apply_site(x, sites[index][0], sites[index][1], start, count)
        x = encoder_layer(layer, x, causal=False)
    return model.visual_projection(tower.post_layernorm(x[:, 0]))


def end_of_text(ids, eos):
    if eos == 2:
        return ids.argmax(dim=-1)
    return (ids == eos).int().argmax(dim=-1)


def text_forward(model, ids, plan, prompts):
    """Layer-0 prompts go right after SOT, before the positional embedding; a caption that would push EOT past
    the context is cut before EOT, which is kept. Only max(eot) + 1 positions are run (causal mask)."""
    tower = model.text_model
    context = ids.shape[1]
    sites = {site["layer"]: (site, prompts[i]) for i, site in enumerate(plan["sites"])}
    first = sites[0][0]["tokens"] if 0 in sites else 0
    original = end_of_text(ids, model.config.text_config.eos_token_id)
    eot = torch.clamp(original, max=context - first - 1)
    tokens = int(eot.max()) + 1
    base = torch.stack([
        torch.tensor([int(row[int(o)]) if t == int(e) else int(row[min(t, context - 1)]) for t in range(tokens)])
        for row, o, e in zip(ids, original, eot)])
    x = tower.embeddings.token_embedding(base)
    count = 0
    if 0 in sites:
        x, count = apply_site(x, sites[0][0], sites[0][1], 1, count)
    x = x + tower.embeddings.position_embedding.weight[: x.shape[1]]
    for index, layer in enumerate(tower.encoder.layers):
        if index > 0 and index in sites:
            x, count = apply_site(x, sites[index][0], sites[index][1], 1, count)
        x = encoder_layer(layer, x, causal=True)
    pooled = x[torch.arange(x.shape[0]), eot + count]
    return model.text_projection(tower.final_layer_norm(pooled))


def contrastive_loss(model, image, text):
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    logits = model.logit_scale.exp() * image @ text.t()
    targets = torch.arange(image.shape[0])
    return (torch.nn.functional.cross_entropy(logits, targets)
            + torch.nn.functional.cross_entropy(logits.t(), targets)) / 2


def features(output):
    """transformers 5 returns a model output from get_*_features, older versions a tensor."""
    return output if torch.is_tensor(output) else output.pooler_output


def make_model(spec, tokenizer, seed):
    torch.manual_seed(seed)
    special = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    config = CLIPConfig(text_config=dict(spec["text"], **special), vision_config=spec["vision"],
                        projection_dim=spec["projection_dim"])
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            # Non-trivial LayerNorms and biases so that their gradients and effects are tested too.
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.05 * torch.randn_like(parameter))
            if spec["dtype"] == torch.float16:
                parameter.copy_(parameter.half().float())
    return model


def write_parity(model, spec, tokenizer, folder, seed):
    torch.manual_seed(seed + 1)
    batch = spec["batch"]
    vision, text = spec["vision"], spec["text"]
    pixels = torch.randn(batch, 3, vision["image_size"], vision["image_size"])
    encoded = tokenizer(CAPTIONS[:batch], padding="max_length", truncation=True,
                        max_length=text["max_position_embeddings"], return_tensors="pt")
    ids = encoded["input_ids"]

    def make_prompts(plan, width):
        tensors = []
        for site in plan["sites"]:
            shape = (batch, site["tokens"], width) if site.get("per_sample") else (site["tokens"], width)
            tensors.append(torch.randn(*shape).requires_grad_(True))
        return tensors

    vision_prompts = make_prompts(spec["vision_plan"], vision["hidden_size"])
    text_prompts = make_prompts(spec["text_plan"], text["hidden_size"])
    image = vision_forward(model, pixels, spec["vision_plan"], vision_prompts)
    caption = text_forward(model, ids, spec["text_plan"], text_prompts)
    loss = contrastive_loss(model, image, caption)
    model.zero_grad()
    loss.backward()

    tensors = {"pixel_values": pixels, "input_ids": ids, "image_embeds": image.detach(),
               "text_embeds": caption.detach(), "loss": loss.detach().reshape([])}
    for prefix, prompts in (("vision", vision_prompts), ("text", text_prompts)):
        for index, prompt in enumerate(prompts):
            tensors[f"{prefix}.site{index}"] = prompt.detach()
            tensors[f"grad.{prefix}.site{index}"] = prompt.grad
    if spec["weight_gradients"]:
        for name, parameter in model.named_parameters():
            tensors[f"grad.{name}"] = parameter.grad
    plans = dict(vision=spec["vision_plan"], text=spec["text_plan"])
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "parity.safetensors"),
              metadata={"plans": json.dumps(plans), "weight_gradients": str(spec["weight_gradients"]).lower()})
    return loss.item()


def write_embed_inputs(model, spec, tokenizer, folder, seed):
    """The inputs of `promptcl embed` and what transformers returns for them (plain CLIP, no prompts)."""
    torch.manual_seed(seed + 2)
    size = spec["vision"]["image_size"]
    pixels = torch.randn(5, 3, size, size)
    with open(os.path.join(folder, "captions.txt"), "w") as handle:
        handle.write("\n".join(CAPTIONS) + "\n")
    encoded = tokenizer(CAPTIONS, padding="max_length", truncation=True,
                        max_length=spec["text"]["max_position_embeddings"], return_tensors="pt")
    with torch.no_grad():
        image = features(model.get_image_features(pixel_values=pixels))
        text = features(model.get_text_features(input_ids=encoded["input_ids"],
                                                attention_mask=encoded["attention_mask"]))
        # The written-out reference must agree with transformers before it is trusted for the prompted case.
        plain_image = vision_forward(model, pixels, dict(placement="afterClassToken", sites=[]), [])
        plain_text = text_forward(model, encoded["input_ids"], dict(sites=[]), [])
    assert torch.allclose(image, plain_image, atol=1e-5), (image - plain_image).abs().max()
    assert torch.allclose(text, plain_text, atol=1e-5), (text - plain_text).abs().max()
    save_file({"pixel_values": pixels}, os.path.join(folder, "images.safetensors"))
    save_file({"image_embeds": image.contiguous(), "text_embeds": text.contiguous(),
               "input_ids": encoded["input_ids"]}, os.path.join(folder, "embeddings.safetensors"))


def main():
    tokenizer = CLIPTokenizer.from_pretrained(VOCABULARY)
    for seed, (name, spec) in enumerate(MODELS.items()):
        folder = os.path.join(HERE, "models", name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        model = make_model(spec, tokenizer, seed=100 + seed)
        loss = write_parity(model, spec, tokenizer, folder, seed=200 + seed)
        write_embed_inputs(model, spec, tokenizer, folder, seed=300 + seed)
        model.to(spec["dtype"]).save_pretrained(folder)
        for file in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(VOCABULARY, file), folder)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print(f"{name}: loss {loss:.6f}, {size / 1024:.0f} KiB in {folder}")


if __name__ == "__main__":
    main()
