#!/usr/bin/env python3
"""Writes the fixture of Tests/PromptingTests/LPIKernelTests.swift: LPI's CP composition and its two prompt losses
(Low-rank Prompt Interaction, sections 4.1, 4.2 and 4.4), each computed by torch autograd in float64.
Developers run it; CI does not.

    pip install torch safetensors                # used: torch 2.15, safetensors 0.8
    python3 Tests/Fixtures/make_lpi_fixtures.py  # from anywhere; rewrites lpi/lpi.safetensors (~110 KB)

Every tensor is F64. Inputs are drawn in float32 and widened, so the Float32 inputs the Swift kernels take are
exactly the ones torch saw; outputs and gradients are float64 (the Swift reader rounds them to Float on reading).
Scalars are 1-element tensors. Cases (prefix.name):

  cp.small, cp.lpi     P[i][j][k] = 1/r sum_rho A[i,rho] B[j,rho] C[k,rho] with (I, J, K, r) = (3, 5, 7, 4) and
                       the retrieval code's shape (9 layers, 16 tokens, 24 channels, r 4): a (I, r), b (J, r),
                       c (K, r), upstream (I, J, K) = dL/dP of L = sum(P * upstream), p, da, db, dc
  hpa.<variant>.<t>    hierarchical prompt alignment, D = 4 layers, L = 5 tokens, dv = 12, dl = 8; variant paper
                       (row cross-entropy) or official (mean of the row and the column cross-entropies); t sharp
                       (tau 0.01, prompts of std 0.05 so the logits are O(10)) or mild (tau 0.5, std 1):
                       visual (D, L, dv), textual (D, L, dl), temperature, loss, d_visual, d_textual
  cpa.<variant>.<t>    cross-task prompt alignment, k = 4 tasks, visual rows of 24, textual rows of 16; variant paper
                       (dot-product scores, eq. 9) or official (cosine scores, +inf self score, BCE-with-logits of
                       sigmoid(s / tau): the double sigmoid); t sharp (tau 0.01) or mild (tau 0.5):
                       visual (k, 24), textual (k, 16), similarity (k, k) (one entry exactly 0.4: >= makes it a
                       positive), threshold, targets (k, k), temperature, loss, d_visual, d_textual
  cpa.<variant>.single k = 1 (only the task itself: no negatives), tau 0.5, same tensors
  cpf.paper, cpf.norm  cross-modal prompt fusion at F = 3 layers, B = 3 samples, L = 5 tokens, dv = 12, dl = 8, r = 4:
                       momentum (lambda 0.9; 0.6 with LayerNorm), CP factors vision.{a,b,c} ((F, r), (dl+1, r),
                       (dv, r)) and text.{a,b,c} ((F, r), (dv+1, r), (dl, r)), the composed vision_map (F, dl+1, dv)
                       and text_map (F, dv+1, dl), inputs visual (F, B, L, dv) and textual (F, B, L, dl), upstream
                       up_visual, up_textual, outputs fused_visual, fused_textual, and the gradients d_visual,
                       d_textual, d_<factor>; cpf.norm also {vision,text}.norm.{weight,bias} and their d_
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lpi")
tensors = {}
generator = torch.Generator().manual_seed(20240613)


def draw(*shape, std=1.0):
    """float32 normal draws widened to float64 (exactly representable in Float32), as a leaf needing gradients."""
    values = (torch.randn(*shape, generator=generator, dtype=torch.float32) * std).to(torch.float64)
    return values.requires_grad_(True)


def put(name, value):
    """Stores `value` as F64 (a 0-dimensional one as a 1-element tensor)."""
    tensor = torch.as_tensor(value, dtype=torch.float64).detach()
    tensors[name] = (tensor.reshape(1) if tensor.dim() == 0 else tensor).contiguous()


# ---- CP composition (eq. 3) -------------------------------------------------------------------------------------

def cp_case(name, i, j, k, rank):
    a, b, c = draw(i, rank), draw(j, rank), draw(k, rank)
    p = torch.einsum("ir,jr,kr->ijk", a, b, c) / rank
    upstream = draw(i, j, k).detach()
    (p * upstream).sum().backward()
    for key, value in [("a", a), ("b", b), ("c", c), ("upstream", upstream), ("p", p),
                       ("da", a.grad), ("db", b.grad), ("dc", c.grad)]:
        put(f"cp.{name}.{key}", value)


cp_case("small", 3, 5, 7, 4)
cp_case("lpi", 9, 16, 24, 4)


# ---- Hierarchical prompt alignment (eq. 4-5) --------------------------------------------------------------------

def hpa_loss(visual, textual, tau, variant):
    pv = visual.mean(-1)                          # (D, L)
    pl = textual.mean(-1)                         # (D, L)
    ms = (pv / tau) @ (pl / tau).T                # (D, D): layer i's visual against layer j's textual
    labels = torch.arange(ms.shape[0])
    rows = F.cross_entropy(ms, labels)            # 1/D sum_i -log softmax(MS[i, :])[i]
    if variant == "paper":
        return rows
    return (rows + F.cross_entropy(ms.T, labels)) / 2   # ClipLoss on the layer matrix: rows and columns


for variant in ("paper", "official"):
    for label, tau, std in (("sharp", 0.01, 0.05), ("mild", 0.5, 1.0)):
        visual, textual = draw(4, 5, 12, std=std), draw(4, 5, 8, std=std)
        loss = hpa_loss(visual, textual, tau, variant)
        loss.backward()
        prefix = f"hpa.{variant}.{label}"
        for key, value in [("visual", visual), ("textual", textual), ("temperature", [tau]), ("loss", [loss.item()]),
                           ("d_visual", visual.grad), ("d_textual", textual.grad)]:
            put(f"{prefix}.{key}", value)


# ---- Cross-task prompt alignment (eq. 7-11) ---------------------------------------------------------------------

def cpa_rows(x, z, tau, variant):
    """sum_i L_i for one modality's (k, n) rows."""
    k = x.shape[0]
    if variant == "paper":
        ts = x @ x.T                                                        # eq. 8, j = i included
        l = -z * F.logsigmoid(ts / tau) - (1 - z) * F.logsigmoid((1 - ts) / tau)   # eq. 9
    else:
        cos = F.cosine_similarity(x[None, :, :], x[:, None, :], dim=-1)
        cos = cos.masked_fill(torch.eye(k, dtype=torch.bool), float("inf"))
        l = F.binary_cross_entropy_with_logits(torch.sigmoid(cos / tau), z, reduction="none")
    positives, negatives = z.sum(1), (1 - z).sum(1)
    # eq. 10; a term whose count is 0 is 0 (its sum is 0 too: clamping the count keeps autograd free of 0/0)
    per_task = (z * l).sum(1) / positives.clamp(min=1) + ((1 - z) * l).sum(1) / negatives.clamp(min=1)
    return per_task.sum()


def cpa_case(prefix, similarity, tau, variant, std):
    k = similarity.shape[0]
    threshold = 0.4
    z = (similarity >= torch.tensor(threshold, dtype=torch.float32)).to(torch.float64)
    visual, textual = draw(k, 24, std=std), draw(k, 16, std=std)
    loss = (cpa_rows(visual, z, tau, variant) + cpa_rows(textual, z, tau, variant)) / (2 * k)   # eq. 11
    loss.backward()
    assert torch.isfinite(loss)
    for key, value in [("visual", visual), ("textual", textual), ("similarity", similarity.to(torch.float64)),
                       ("threshold", [threshold]), ("targets", z), ("temperature", [tau]), ("loss", [loss.item()]),
                       ("d_visual", visual.grad), ("d_textual", textual.grad)]:
        put(f"{prefix}.{key}", value)


# Symmetric, 1 on the diagonal; task 0: positives {0, 1, 3 (exactly 0.4)}, negatives {2}; task 2: {2, 3} and {0, 1}.
similarity = torch.tensor([[1.0, 0.6, 0.2, 0.4],
                           [0.6, 1.0, 0.3, 0.1],
                           [0.2, 0.3, 1.0, 0.5],
                           [0.4, 0.1, 0.5, 1.0]], dtype=torch.float32)
for variant in ("paper", "official"):
    # std 0.25 over 24 (16) channels: squared norms ~1.5 (1), scores between tasks ~ +-0.3
    cpa_case(f"cpa.{variant}.sharp", similarity, 0.01, variant, 0.25)
    cpa_case(f"cpa.{variant}.mild", similarity, 0.5, variant, 0.25)
    cpa_case(f"cpa.{variant}.single", torch.ones(1, 1), 0.5, variant, 0.25)


# ---- Cross-modal prompt fusion (section 4.3, eq. 6) ---------------------------------------------------------------

def cpf_case(prefix, fused, batch, tokens, dv, dl, rank, momentum, normalized):
    """F fused layers of B samples: VIS and TEXT composed from CP factors (mean over the rank, bias as the last row),
    M = lambda I + (1 - lambda) map(other I), LayerNorm on M when normalized; L = sum_f <I~_v, up_v> + <I~_l, up_l>."""
    factors = {name: draw(*shape) for name, shape in (
        ("vision.a", (fused, rank)), ("vision.b", (dl + 1, rank)), ("vision.c", (dv, rank)),
        ("text.a", (fused, rank)), ("text.b", (dv + 1, rank)), ("text.c", (dl, rank)))}
    vis = torch.einsum("ir,jr,kr->ijk", factors["vision.a"], factors["vision.b"], factors["vision.c"]) / rank
    text = torch.einsum("ir,jr,kr->ijk", factors["text.a"], factors["text.b"], factors["text.c"]) / rank
    norms = {}
    if normalized:
        for modality, width in (("vision", dv), ("text", dl)):
            norms[f"{modality}.norm.weight"] = (1 + 0.1 * draw(width)).detach().requires_grad_(True)
            norms[f"{modality}.norm.bias"] = (0.05 * draw(width)).detach().requires_grad_(True)
    visual, textual = draw(fused, batch, tokens, dv), draw(fused, batch, tokens, dl)
    up_visual, up_textual = draw(fused, batch, tokens, dv).detach(), draw(fused, batch, tokens, dl).detach()
    fused_visual, fused_textual = [], []
    for f in range(fused):
        iv, il = visual[f], textual[f]
        mv = momentum * iv + (1 - momentum) * (il @ vis[f, :dl] + vis[f, dl])
        ml = momentum * il + (1 - momentum) * (iv @ text[f, :dv] + text[f, dv])
        if normalized:
            mv = F.layer_norm(mv, (dv,), norms["vision.norm.weight"], norms["vision.norm.bias"], eps=1e-5)
            ml = F.layer_norm(ml, (dl,), norms["text.norm.weight"], norms["text.norm.bias"], eps=1e-5)
        fused_visual.append(mv)
        fused_textual.append(ml)
    fused_visual, fused_textual = torch.stack(fused_visual), torch.stack(fused_textual)
    ((fused_visual * up_visual).sum() + (fused_textual * up_textual).sum()).backward()
    put(f"{prefix}.momentum", [momentum])
    for key, value in [("visual", visual), ("textual", textual), ("up_visual", up_visual), ("up_textual", up_textual),
                       ("vision_map", vis), ("text_map", text), ("fused_visual", fused_visual),
                       ("fused_textual", fused_textual), ("d_visual", visual.grad), ("d_textual", textual.grad)]:
        put(f"{prefix}.{key}", value)
    for name, tensor in list(factors.items()) + list(norms.items()):
        put(f"{prefix}.{name}", tensor)
        put(f"{prefix}.d_{name}", tensor.grad)


# F = 3 fused layers (D = 4), B = 3 samples of L = 5 tokens, dv = 12, dl = 8, r = 4: the paper's mix with lambda 0.9,
# and the grounding code's LayerNorm with lambda 0.6 (the maps weigh more).
cpf_case("cpf.paper", 3, 3, 5, 12, 8, 4, 0.9, False)
cpf_case("cpf.norm", 3, 3, 5, 12, 8, 4, 0.6, True)

os.makedirs(OUT, exist_ok=True)
save_file(tensors, os.path.join(OUT, "lpi.safetensors"),
          metadata={"writer": "Tests/Fixtures/make_lpi_fixtures.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors to {os.path.join(OUT, 'lpi.safetensors')}")
