#!/usr/bin/env python3
"""Writes the fixture of Tests/PromptingTests/PromptPoolTests.swift. Developers run it; CI does not.

    pip install torch safetensors                  # used: torch 2.15, safetensors 0.8
    python3 Tests/Fixtures/make_l2p_fixtures.py    # from anywhere; rewrites the file below

Re-implements the prompt-pool part of l2p-pytorch's Prompt.forward (JH-LEE-KR/l2p-pytorch, prompt.py) with the
options L2P trains with: learned keys (prompt_key=True), the frozen model's [CLS] feature as the query
(embedding_key='cls'), per-sample top-k (batchwise_prompt=False, prompt_mask=None), and the pull constraint as
engine.py adds it: loss = CE - pull_constraint_coeff * reduce_sim.

Writes l2p/l2p.safetensors (~20 KB), float32 unless noted; n = 6 queries, M = 10 keys, d = 16, length = 5,
D = 12, top-k = 5, coefficient 0.1:
  queries (n, d)            random normal times 3 (not normalised)
  keys (M, d)               random normal
  values (M, length, D)     the pool's prompts, uniform [0, 1) (the official init)
  similarity (n, M)         l2_normalize(queries) @ l2_normalize(keys).T
  indices (n, k)            int64, torch.topk(similarity, k, dim=1).indices (descending)
  selected (n, k)           the similarities at those indices
  block (n, k*length, D)    the gathered prompts, concatenated in topk order
  batchwise_indices (n, k)  int64, what batchwise_prompt=True would have used (the majority vote): not our default
  reduce_sim []             sum of the selected similarities / n
  weights (n, k*length, D)  R, random normal
  objective []              sum(block * R) - 0.1 * reduce_sim
  grad_values (M, length, D), grad_keys (M, d)   autograd gradients of the objective
The seed is advanced until every row's top k+1 similarities are at least 1e-3 apart (no near-ties for float32 to
reorder) and the rows select different sets (so the test sees per-sample selection).
"""
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "l2p", "l2p.safetensors")
N, M, D_KEY, LENGTH, WIDTH, TOP_K, COEFFICIENT = 6, 10, 16, 5, 12, 5, 0.1


def l2_normalize(x, epsilon=1e-12):
    """x / sqrt(max(||x||^2, eps)) along the last dimension (the official rule: eps floors the squared norm)."""
    squares = (x * x).sum(dim=-1, keepdim=True)
    return x * torch.rsqrt(torch.clamp(squares, min=epsilon))


def pool_forward(queries, keys, values):
    """The pool's forward: similarity, per-sample top-k, gathered block, reduce_sim."""
    similarity = l2_normalize(queries) @ l2_normalize(keys).t()                       # (n, M)
    selected, indices = torch.topk(similarity, k=TOP_K, dim=1)                        # (n, k), descending
    block = values[indices].reshape(queries.shape[0], TOP_K * LENGTH, WIDTH)          # (n, k*length, D)
    selected_keys = l2_normalize(keys)[indices]                                       # (n, k, d)
    reduce_sim = (selected_keys * l2_normalize(queries).unsqueeze(1)).sum() / queries.shape[0]
    return similarity, selected, indices, block, reduce_sim


def batchwise_vote(indices):
    """batchwise_prompt=True: the batch's k most frequent entries, for every row (the option we do not use)."""
    ids, counts = torch.unique(indices, return_counts=True, sorted=True)
    if ids.shape[0] < M:
        ids = torch.cat([ids, torch.full((M - ids.shape[0],), int(indices.min()))])
        counts = torch.cat([counts, torch.zeros(M - counts.shape[0], dtype=counts.dtype)])
    _, major = torch.topk(counts, k=TOP_K)
    return ids[major].expand(indices.shape[0], -1)


def well_separated(similarity):
    ordered = torch.sort(similarity, dim=1, descending=True).values[:, :TOP_K + 1]
    return bool((ordered[:, :-1] - ordered[:, 1:]).min() > 1e-3)


seed = 0
while True:
    generator = torch.Generator().manual_seed(seed)
    queries = 3 * torch.randn(N, D_KEY, generator=generator)
    keys = torch.randn(M, D_KEY, generator=generator)
    values = torch.rand(M, LENGTH, WIDTH, generator=generator)
    weights = torch.randn(N, TOP_K * LENGTH, WIDTH, generator=generator)
    similarity, _, indices, _, _ = pool_forward(queries, keys, values)
    distinct_sets = len({tuple(sorted(row.tolist())) for row in indices}) > 1
    if well_separated(similarity) and distinct_sets:
        break
    seed += 1

keys_parameter = keys.clone().requires_grad_(True)
values_parameter = values.clone().requires_grad_(True)
similarity, selected, indices, block, reduce_sim = pool_forward(queries, keys_parameter, values_parameter)
objective = (block * weights).sum() - COEFFICIENT * reduce_sim
objective.backward()

tensors = {
    "queries": queries, "keys": keys, "values": values, "weights": weights,
    "similarity": similarity, "indices": indices.to(torch.int64), "selected": selected, "block": block,
    "batchwise_indices": batchwise_vote(indices).contiguous().to(torch.int64),
    "reduce_sim": reduce_sim, "objective": objective,
    "grad_values": values_parameter.grad, "grad_keys": keys_parameter.grad,
}
tensors = {name: tensor.detach().contiguous() for name, tensor in tensors.items()}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
save_file(tensors, OUT, metadata={"seed": str(seed), "top_k": str(TOP_K), "coefficient": str(COEFFICIENT)})
print(f"seed {seed}: wrote {OUT}")
print("indices:", indices.tolist())
print("batchwise vote:", tensors["batchwise_indices"][0].tolist(), "reduce_sim:", float(tensors["reduce_sim"]))
