#!/usr/bin/env python3
"""Writes the fixture of Tests/PromptingTests/CrossModalLockStepTests.swift: LPI-P's stage A (the vision tower and the
text prefix [SOT ; prompts] run layer by layer in lock-step, with cross-modal prompt fusion before prompted layers
2..D) on a small random CLIP, computed by torch autograd in float64. Developers run it; CI does not.

    pip install torch transformers safetensors          # used: torch 2.15, transformers 5.23
    python3 Tests/Fixtures/make_lpip_fixtures.py         # rewrites lpi/lock-step/ (~220 KB)

Writes Tests/Fixtures/lpi/lock-step/:
    config.json, model.safetensors   a random transformers CLIPModel (4 layers in each tower, d_v 24, d_l 16), float32
    lock-step.safetensors            the cases below, every tensor F64 (inputs drawn in float32, exactly representable)

The reference is make_model_fixtures.py's layer-by-layer CLIP (its `encoder_layer`, transformers' own modules); with
lambda = 1 (no fusion) it must equal make_model_fixtures.vision_forward with the same prompts, which is checked.
Cases (prefix.name), B = 3 images, L = 2 prompt tokens, prompt rank 4, CPF rank 4:

  paper   D = 3 (fusion before layers 1 and 2; vision layer 3 unprompted; the text prefix runs layers 0 and 1),
          lambda 0.9, no LayerNorm
  norm    D = 4 (fusion before layers 1, 2, 3), lambda 0.6, the grounding code's LayerNorm on the mix

  pixel_values (B, 3, 16, 16), start_of_text [1], depth [1], momentum [1]
  d1 (D, r), vision.d2 (L, r), vision.d3 (d_v, r), text.d2 (L, r), text.d3 (d_l, r)    LPI's prompt factors (eq. 3)
  cpf.vision.{a,b,c} ((D-1, r), (d_l+1, r), (d_v, r)), cpf.text.{a,b,c} ((D-1, r), (d_v+1, r), (d_l, r))
  norm only: cpf.{vision,text}.norm.{weight,bias}
  up_image (B, E), up_text (D-1, B, L, d_l)      L = <image_embeds, up_image> + <fused_text, up_text>
  image_embeds (B, E), fused_text (D-1, B, L, d_l): the text prompt rows after fusion before layers 1 .. D-1
  d_<every factor above>

  pairs   a training step over every (image, caption) pair, LPI-P as the paper writes it (no prefix: each pair's
          vision tower and whole text tower in lock-step), D = 3, lambda 0.7: pixel_values, input_ids (B, 12) (the
          third caption is cut before its EOT), depth, momentum, the factors as above, image_embeds (B, E),
          text_embeds (B images, B captions, E), loss (CLIP's symmetric loss on logits[i][j] = s <i_i, t_j|i>), and
          every factor's gradient
"""
import os
import shutil

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel

import make_model_fixtures as reference

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lpi", "lock-step")
BATCH, TOKENS, RANK = 3, 2, 4
VISION = dict(hidden_size=24, intermediate_size=48, num_hidden_layers=4, num_attention_heads=2, image_size=16,
              patch_size=8, hidden_act="quick_gelu")
TEXT = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=4, num_attention_heads=2,
            max_position_embeddings=12, hidden_act="quick_gelu", vocab_size=50, bos_token_id=48, eos_token_id=49,
            pad_token_id=49)
generator = torch.Generator().manual_seed(20240614)
tensors = {}


def draw(*shape, std=1.0):
    """float32 normal draws widened to float64, as a leaf needing gradients."""
    values = (torch.randn(*shape, generator=generator, dtype=torch.float32) * std).to(torch.float64)
    return values.requires_grad_(True)


def put(name, value):
    tensor = torch.as_tensor(value, dtype=torch.float64).detach()
    tensors[name] = (tensor.reshape(1) if tensor.dim() == 0 else tensor).contiguous()


def make_model():
    torch.manual_seed(500)
    model = CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=20)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.05 * torch.randn_like(parameter))
            else:
                # Larger than transformers' 0.02, so that the prompts and the fusion move the embeddings visibly.
                parameter.copy_(0.2 * torch.randn_like(parameter))
    return model


def cp(a, b, c):
    return torch.einsum("ir,jr,kr->ijk", a, b, c) / a.shape[1]


def fuse(iv, il, vis, text, f, momentum, norms):
    dv, dl = iv.shape[-1], il.shape[-1]
    mv = momentum * iv + (1 - momentum) * (il @ vis[f, :dl] + vis[f, dl])
    ml = momentum * il + (1 - momentum) * (iv @ text[f, :dv] + text[f, dv])
    if norms:
        mv = F.layer_norm(mv, (dv,), norms["cpf.vision.norm.weight"], norms["cpf.vision.norm.bias"], eps=1e-5)
        ml = F.layer_norm(ml, (dl,), norms["cpf.text.norm.weight"], norms["cpf.text.norm.bias"], eps=1e-5)
    return mv, ml


def lock_step(model, pixels, sot, pv, pl, vis, text, norms, momentum, depth):
    """Stage A: image embeddings and the fused text prompt rows before layers 1 .. D-1."""
    vision, language = model.vision_model, model.text_model
    batch, tokens = pixels.shape[0], pv.shape[1]
    xv = vision.embeddings(pixels)
    xv = torch.cat([xv[:, :1], pv[0].expand(batch, -1, -1), xv[:, 1:]], dim=1)      # site 0: insert after CLS
    xv = vision.pre_layrnorm(xv)
    sot_row = language.embeddings.token_embedding(torch.full((batch, 1), sot))
    xt = torch.cat([sot_row, pl[0].expand(batch, -1, -1)], dim=1)                     # [SOT ; P_0]
    xt = xt + language.embeddings.position_embedding.weight[: 1 + tokens]
    fused_text = []
    for l, layer in enumerate(vision.encoder.layers):
        if 1 <= l < depth:
            # the add sites (eq. 1), then CPF on I = P + E (eq. 6)
            iv, il = xv[:, 1:1 + tokens] + pv[l], xt[:, 1:1 + tokens] + pl[l]
            mv, ml = fuse(iv, il, vis, text, l - 1, momentum, norms)
            xv = torch.cat([xv[:, :1], mv, xv[:, 1 + tokens:]], dim=1)
            xt = torch.cat([xt[:, :1], ml], dim=1)
            fused_text.append(ml)
        xv = reference.encoder_layer(layer, xv, causal=False)
        if l < depth - 1:
            xt = reference.encoder_layer(language.encoder.layers[l], xt, causal=True)
    image = model.visual_projection(vision.post_layernorm(xv[:, 0]))
    return image, torch.stack(fused_text)


def write_case(model, prefix, depth, momentum, normalized):
    dv, dl = VISION["hidden_size"], TEXT["hidden_size"]
    pixels = draw(BATCH, 3, VISION["image_size"], VISION["image_size"]).detach()
    factors = {name: draw(*shape, std=std) for name, shape, std in (
        ("d1", (depth, RANK), 1.0), ("vision.d2", (TOKENS, RANK), 1.0), ("vision.d3", (dv, RANK), 1.0),
        ("text.d2", (TOKENS, RANK), 1.0), ("text.d3", (dl, RANK), 1.0),
        ("cpf.vision.a", (depth - 1, RANK), 1.0), ("cpf.vision.b", (dl + 1, RANK), 1.0), ("cpf.vision.c", (dv, RANK), 1.0),
        ("cpf.text.a", (depth - 1, RANK), 1.0), ("cpf.text.b", (dv + 1, RANK), 1.0), ("cpf.text.c", (dl, RANK), 1.0))}
    norms = {}
    if normalized:
        for modality, width in (("vision", dv), ("text", dl)):
            norms[f"cpf.{modality}.norm.weight"] = (1 + 0.1 * draw(width)).detach().requires_grad_(True)
            norms[f"cpf.{modality}.norm.bias"] = (0.05 * draw(width)).detach().requires_grad_(True)
    pv = cp(factors["d1"], factors["vision.d2"], factors["vision.d3"])
    pl = cp(factors["d1"], factors["text.d2"], factors["text.d3"])
    vis = cp(factors["cpf.vision.a"], factors["cpf.vision.b"], factors["cpf.vision.c"])
    text = cp(factors["cpf.text.a"], factors["cpf.text.b"], factors["cpf.text.c"])
    sot = TEXT["bos_token_id"]
    image, fused_text = lock_step(model, pixels, sot, pv, pl, vis, text, norms, momentum, depth)

    # Without fusion (lambda = 1) stage A's image is the prompted vision tower of make_model_fixtures.py.
    with torch.no_grad():
        plain, _ = lock_step(model, pixels, sot, pv, pl, vis, text, {}, 1.0, depth)
        sites = [dict(layer=0, tokens=TOKENS, mode="insert")] + [dict(layer=l, tokens=TOKENS, mode="add")
                                                               for l in range(1, depth)]
        tower = reference.vision_forward(model, pixels, dict(placement="afterClassToken", sites=sites), list(pv))
    assert torch.allclose(plain, tower, atol=1e-12), (plain - tower).abs().max()
    assert (image - plain).abs().max() > 1e-3, "the fusion must move the image embeddings"

    up_image = draw(*image.shape).detach()
    up_text = draw(*fused_text.shape).detach()
    ((image * up_image).sum() + (fused_text * up_text).sum()).backward()
    for key, value in [("pixel_values", pixels), ("start_of_text", [sot]), ("depth", [depth]),
                       ("momentum", [momentum]), ("up_image", up_image), ("up_text", up_text),
                       ("image_embeds", image), ("fused_text", fused_text)]:
        put(f"{prefix}.{key}", value)
    for name, tensor in list(factors.items()) + list(norms.items()):
        put(f"{prefix}.{name}", tensor)
        put(f"{prefix}.d_{name}", tensor.grad)


def paired_lock_step(model, pixels, ids, pv, pl, vis, text, norms, momentum, depth):
    """LPI-P as the paper writes it, with no prefix: for every (image i, caption j) the vision tower and the whole text
    tower over caption j run in lock-step, fused before layers 1 .. D-1. Returns image (N, E), texts (N, C, E)."""
    vision, language = model.vision_model, model.text_model
    n, c, tokens = pixels.shape[0], ids.shape[0], pv.shape[1]
    pairs = n * c
    xv = vision.embeddings(pixels.repeat_interleave(c, 0))                            # pair p = i * c + j
    xv = vision.pre_layrnorm(torch.cat([xv[:, :1], pv[0].expand(pairs, -1, -1), xv[:, 1:]], dim=1))
    context = ids.shape[1]
    original = reference.end_of_text(ids, model.config.text_config.eos_token_id)
    eot = torch.clamp(original, max=context - tokens - 1)
    length = int(eot.max()) + 1
    base = torch.stack([
        torch.tensor([int(row[int(o)]) if t == int(e) else int(row[min(t, context - 1)]) for t in range(length)])
        for row, o, e in zip(ids, original, eot)]).repeat(n, 1)
    xt = language.embeddings.token_embedding(base)
    xt = torch.cat([xt[:, :1], pl[0].expand(pairs, -1, -1), xt[:, 1:]], dim=1)
    xt = xt + language.embeddings.position_embedding.weight[: xt.shape[1]]
    for l in range(len(vision.encoder.layers)):
        if 1 <= l < depth:
            iv, il = xv[:, 1:1 + tokens] + pv[l], xt[:, 1:1 + tokens] + pl[l]
            mv, ml = fuse(iv, il, vis, text, l - 1, momentum, norms)
            xv = torch.cat([xv[:, :1], mv, xv[:, 1 + tokens:]], dim=1)
            xt = torch.cat([xt[:, :1], ml, xt[:, 1 + tokens:]], dim=1)
        xv = reference.encoder_layer(vision.encoder.layers[l], xv, causal=False)
        xt = reference.encoder_layer(language.encoder.layers[l], xt, causal=True)
    image = model.visual_projection(vision.post_layernorm(xv[::c, 0]))
    pooled = xt[torch.arange(pairs), eot.repeat(n) + tokens]
    texts = model.text_projection(language.final_layer_norm(pooled)).reshape(n, c, -1)
    return image, texts


def write_pairs(model, prefix, depth, momentum):
    """A training step's loss over every (image, caption) pair, and its gradients into every factor."""
    dv, dl = VISION["hidden_size"], TEXT["hidden_size"]
    sot, eos, context = TEXT["bos_token_id"], TEXT["eos_token_id"], TEXT["max_position_embeddings"]
    pixels = draw(BATCH, 3, VISION["image_size"], VISION["image_size"]).detach()
    # Captions of 3, 7 and 10 words: the last one does not fit beside L prompts and is cut before its EOT.
    rows = []
    for words in (3, 7, 10):
        row = [sot] + torch.randint(0, sot, (words,), generator=generator).tolist() + [eos]
        rows.append(row + [eos] * (context - len(row)))
    ids = torch.tensor(rows)
    factors = {name: draw(*shape) for name, shape in (
        ("d1", (depth, RANK)), ("vision.d2", (TOKENS, RANK)), ("vision.d3", (dv, RANK)),
        ("text.d2", (TOKENS, RANK)), ("text.d3", (dl, RANK)),
        ("cpf.vision.a", (depth - 1, RANK)), ("cpf.vision.b", (dl + 1, RANK)), ("cpf.vision.c", (dv, RANK)),
        ("cpf.text.a", (depth - 1, RANK)), ("cpf.text.b", (dv + 1, RANK)), ("cpf.text.c", (dl, RANK)))}
    pv = cp(factors["d1"], factors["vision.d2"], factors["vision.d3"])
    pl = cp(factors["d1"], factors["text.d2"], factors["text.d3"])
    vis = cp(factors["cpf.vision.a"], factors["cpf.vision.b"], factors["cpf.vision.c"])
    text = cp(factors["cpf.text.a"], factors["cpf.text.b"], factors["cpf.text.c"])
    image, texts = paired_lock_step(model, pixels, ids, pv, pl, vis, text, {}, momentum, depth)
    with torch.no_grad():
        staged, _ = lock_step(model, pixels, sot, pv, pl, vis, text, {}, momentum, depth)
    assert torch.allclose(image, staged, atol=1e-12), "the image does not depend on the caption"
    assert (texts[0] - texts[1]).abs().max() > 1e-3, "the captions' embeddings depend on the image"
    im = image / image.norm(dim=-1, keepdim=True)
    tx = texts / texts.norm(dim=-1, keepdim=True)
    logits = model.logit_scale.exp() * torch.einsum("ie,ije->ij", im, tx)
    targets = torch.arange(BATCH)
    loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
    loss.backward()
    for key, value in [("pixel_values", pixels), ("input_ids", ids), ("depth", [depth]), ("momentum", [momentum]),
                       ("image_embeds", image), ("text_embeds", texts), ("loss", [loss.item()])]:
        put(f"{prefix}.{key}", value)
    for name, tensor in factors.items():
        put(f"{prefix}.{name}", tensor)
        put(f"{prefix}.d_{name}", tensor.grad)


def main():
    model = make_model()
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model.save_pretrained(OUT)
    model = model.double()
    write_case(model, "paper", depth=3, momentum=0.9, normalized=False)
    write_case(model, "norm", depth=4, momentum=0.6, normalized=True)
    write_pairs(model, "pairs", depth=3, momentum=0.7)
    path = os.path.join(OUT, "lock-step.safetensors")
    save_file(tensors, path, metadata={"writer": "Tests/Fixtures/make_lpip_fixtures.py", "torch": torch.__version__})
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(tensors)} tensors to {path}; {size / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
