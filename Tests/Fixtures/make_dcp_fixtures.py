#!/usr/bin/env python3
"""Writes the fixture of Tests/PromptingTests/DeeplyCoupledPromptsTests.swift: DCP's prompt chain (Deeply Coupled
Cross-Modal Prompt Learning, Liu et al. 2023) computed by torch autograd in float64, with the official code's
`PromptAttention` block (GingL/CMPA, clip/model.py) built from torch modules: nn.Linear for the cross-modal
projection, one nn.LayerNorm for queries, keys and values, nn.MultiheadAttention with the query from the other
tower, the residual on this tower, a pre-LN QuickGELU MLP of width 4D. Developers run it; CI does not.

    pip install torch safetensors                # used: torch 2.15, safetensors 0.8
    python3 Tests/Fixtures/make_dcp_fixtures.py  # from anywhere; rewrites dcp/dcp.safetensors (~400 KB)

Every tensor is F64. Inputs and parameters are drawn in float32 and widened, so the Float32 values the Swift code
takes are exactly the ones torch saw; outputs and gradients are float64. Shapes: vision width 16 with 2 heads, text
width 12 with 3 heads, n = 3 prompt tokens. Cases (prefix.name):

  chain      depth 4, one CMPA module per coupled layer (dcp.layer{1,2,3}.cmpa.*)
  shared     depth 3, one module for both coupled layers (dcp.cmpa.*)

For each case: every DCP tensor under its Swift name (`<case>.dcp.layer0.vision`, `<case>.dcp.layer1.cmpa.vision.
attention.in_proj.weight`, ...), the prompts of every layer (`<case>.prompts.vision.layer{l}`, `...text...`), a
random upstream gradient for each (`<case>.upstream.vision.layer{l}`, ...) defining L = sum_l <U_l, prompts_l> over
both towers, and dL/d every tensor (`<case>.grad.<tensor name>`). All parameters are random (LayerNorm weights near 1,
nonzero biases), so every path of the backward is exercised.
"""
import os
from collections import OrderedDict

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dcp")
tensors = {}
generator = torch.Generator().manual_seed(20230529)

VISION_WIDTH, VISION_HEADS = 16, 2
TEXT_WIDTH, TEXT_HEADS = 12, 3
TOKENS = 3


def draw(*shape, std=1.0, mean=0.0):
    """float32 normal draws widened to float64 (exactly representable in Float32)."""
    return (torch.randn(*shape, generator=generator, dtype=torch.float32) * std + mean).to(torch.float64)


def put(name, value):
    tensors[name] = value.detach().to(torch.float64).clone().contiguous()


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Branch(nn.Module):
    """One side of the official PromptAttention: this tower's next prompts from its own and the other tower's."""

    def __init__(self, width, other_width, heads):
        super().__init__()
        self.projection = nn.Linear(other_width, width)          # proj_t2v (vision side) / proj_v2t (text side)
        self.norm1 = nn.LayerNorm(width)                          # ln_pa_1_*
        self.attention = nn.MultiheadAttention(width, heads)      # promt_attention_*
        self.norm2 = nn.LayerNorm(width)                          # ln_pa_2_*
        self.mlp = nn.Sequential(OrderedDict([("fc", nn.Linear(width, 4 * width)), ("gelu", QuickGELU()),
                                              ("proj", nn.Linear(4 * width, width))]))

    def forward(self, own, other):
        # (n, D) and (n, E) as (n, 1, .): the official code's (tokens, batch, width) after its batch pooling
        own, other = own[:, None, :], other[:, None, :]
        query = self.norm1(self.projection(other))
        key = self.norm1(own)
        updated = own + self.attention(query, key, key, need_weights=False)[0]
        updated = updated + self.mlp(self.norm2(updated))
        return updated[:, 0, :]

    def swift_tensors(self, prefix):
        """(Swift name, parameter) pairs."""
        a = self.attention
        return [(f"{prefix}.projection.weight", self.projection.weight), (f"{prefix}.projection.bias", self.projection.bias),
                (f"{prefix}.norm1.weight", self.norm1.weight), (f"{prefix}.norm1.bias", self.norm1.bias),
                (f"{prefix}.attention.in_proj.weight", a.in_proj_weight), (f"{prefix}.attention.in_proj.bias", a.in_proj_bias),
                (f"{prefix}.attention.out_proj.weight", a.out_proj.weight),
                (f"{prefix}.attention.out_proj.bias", a.out_proj.bias),
                (f"{prefix}.norm2.weight", self.norm2.weight), (f"{prefix}.norm2.bias", self.norm2.bias),
                (f"{prefix}.mlp.fc.weight", self.mlp.fc.weight), (f"{prefix}.mlp.fc.bias", self.mlp.fc.bias),
                (f"{prefix}.mlp.proj.weight", self.mlp.proj.weight), (f"{prefix}.mlp.proj.bias", self.mlp.proj.bias)]


def randomise(named):
    """Random float32-representable values: weights of std 1/sqrt(fan-in), LayerNorm weights N(1, 0.2), biases N(0, 0.1)."""
    with torch.no_grad():
        for name, parameter in named:
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(draw(*parameter.shape, std=0.2, mean=1.0))
            elif name.endswith("bias"):
                parameter.copy_(draw(*parameter.shape, std=0.1))
            else:
                parameter.copy_(draw(*parameter.shape, std=parameter.shape[-1] ** -0.5))


def case(prefix, depth, shared):
    modules = {}
    for layer in ([1] if shared else range(1, depth)):
        module_prefix = "dcp.cmpa" if shared else f"dcp.layer{layer}.cmpa"
        vision = Branch(VISION_WIDTH, TEXT_WIDTH, VISION_HEADS).double()
        text = Branch(TEXT_WIDTH, VISION_WIDTH, TEXT_HEADS).double()
        named = vision.swift_tensors(module_prefix + ".vision") + text.swift_tensors(module_prefix + ".text")
        randomise(named)
        modules[layer] = (vision, text, named)
    v0 = draw(TOKENS, VISION_WIDTH, std=0.5).requires_grad_(True)
    t0 = draw(TOKENS, TEXT_WIDTH, std=0.5).requires_grad_(True)
    named = [("dcp.layer0.vision", v0), ("dcp.layer0.text", t0)]
    for layer in sorted(modules):
        named += modules[layer][2]

    vision_prompts, text_prompts = [v0], [t0]
    for layer in range(1, depth):
        vision, text, _ = modules[1 if shared else layer]
        below_v, below_t = vision_prompts[-1], text_prompts[-1]
        vision_prompts.append(vision(below_v, below_t))   # both from the same pair below
        text_prompts.append(text(below_t, below_v))

    loss = 0
    for layer in range(depth):
        for tower, prompts in (("vision", vision_prompts), ("text", text_prompts)):
            upstream = draw(*prompts[layer].shape)
            put(f"{prefix}.upstream.{tower}.layer{layer}", upstream)
            put(f"{prefix}.prompts.{tower}.layer{layer}", prompts[layer])
            loss = loss + (prompts[layer] * upstream).sum()
    loss.backward()
    for name, parameter in named:
        put(f"{prefix}.{name}", parameter)
        put(f"{prefix}.grad.{name}", parameter.grad)


case("chain", depth=4, shared=False)
case("shared", depth=3, shared=True)

os.makedirs(OUT, exist_ok=True)
path = os.path.join(OUT, "dcp.safetensors")
save_file(tensors, path)
print(f"wrote {len(tensors)} tensors to {path} ({os.path.getsize(path)} bytes)")
