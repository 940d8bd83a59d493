#!/usr/bin/env python3
"""Writes the fixtures of Tests/NumericsTests/OptimizerTests.swift and LearningRateScheduleTests.swift.
Developers run it; CI does not.

    pip install torch numpy                             # used: torch 2.15
    python3 Tests/Fixtures/make_optimizer_fixtures.py   # from anywhere; rewrites the two files below

Writes (NumericsTests cannot read safetensors: the reader lives in CLIP, which Numerics must not see):
  optimizers/tensors.f32   every tensor below, raw little-endian float32, one after the other (~90 KB)
  optimizers/cases.json    for each tensor its name, offset and count (in floats) in tensors.f32, and:
    optimizers   torch.optim.Adam / AdamW / SGD (foreach=False, the plain loop), 257 parameters, 5 steps with a
                 new random gradient and a new lr each step: hyper-parameters, lrs; tensors
                 <case>.params0, <case>.grad<k>, <case>.params<k> (after step k = 1...5), and the final state
                 <case>.exp_avg / <case>.exp_avg_sq (Adam, AdamW) or <case>.momentum_buffer (SGD)
    clipping     torch.nn.utils.clip_grad_norm_ on one flat gradient, once clipped and once not:
                 max_norm, the returned norm; tensors clip.<name>.before / clip.<name>.after
    schedules    a run of 3 epochs x 7 steps: the lr torch's schedulers give at each step (the lr the
                 optimizer uses for step i, i = 0...20), for cosine and multi-step, with and without warm-up
                 (SequentialLR of LinearLR then CosineAnnealingLR / MultiStepLR, stepped once per step)
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizers")
COUNT = 257
STEPS = 5
LRS = [1e-3, 3e-3, 2e-3, 5e-4, 1e-3]

tensors = []   # (name, float32 tensor)
index = []     # {"name", "offset", "count"}
offset = 0


def add(name, tensor):
    global offset
    flat = tensor.detach().to(torch.float32).reshape(-1).clone()
    tensors.append(flat)
    index.append({"name": name, "offset": offset, "count": flat.numel()})
    offset += flat.numel()


def run_optimizer(name, kind, seed, lrs, **hyper):
    generator = torch.Generator().manual_seed(seed)
    parameter = torch.nn.Parameter(torch.randn(COUNT, generator=generator))
    add(f"{name}.params0", parameter)
    constructor = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind]
    optimizer = constructor([parameter], lr=lrs[0], foreach=False, **hyper)
    for k, lr in enumerate(lrs, start=1):
        # Gradients of varied scale (a few entries large, a few tiny) so eps and the moments matter.
        grad = torch.randn(COUNT, generator=generator) * torch.exp(2 * torch.randn(COUNT, generator=generator))
        add(f"{name}.grad{k}", grad)
        for group in optimizer.param_groups:
            group["lr"] = lr
        parameter.grad = grad.clone()
        optimizer.step()
        add(f"{name}.params{k}", parameter)
    state = optimizer.state[parameter]
    for key in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
        if key in state:
            add(f"{name}.{key}", state[key])
    config = {"kind": kind, "lr": lrs[0]}
    names = {"betas": None, "eps": "eps", "weight_decay": "weight_decay", "momentum": "momentum",
             "nesterov": "nesterov"}
    for key, value in hyper.items():
        if key == "betas":
            config["beta1"], config["beta2"] = value
        else:
            config[names[key]] = value
    return {"name": name, "config": config, "lrs": lrs, "steps": len(lrs)}


optimizers = [
    run_optimizer("adam", "adam", 1, LRS),
    run_optimizer("adam_l2", "adam", 2, LRS, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    run_optimizer("adamw", "adamw", 3, LRS, weight_decay=0.1),
    run_optimizer("sgd_momentum", "sgd", 4, [0.1, 0.05, 0.2, 0.1, 0.01], momentum=0.9),
    run_optimizer("sgd_nesterov", "sgd", 5, [0.1, 0.05, 0.2, 0.1, 0.01], momentum=0.8, nesterov=True,
                  weight_decay=0.01),
]

clipping = []
generator = torch.Generator().manual_seed(6)
for name, max_norm in (("clipped", 1.0), ("unclipped", 100.0)):
    grad = torch.randn(COUNT, generator=generator)
    parameter = torch.nn.Parameter(torch.zeros(COUNT))
    parameter.grad = grad.clone()
    norm = torch.nn.utils.clip_grad_norm_([parameter], max_norm)
    add(f"clip.{name}.before", grad)
    add(f"clip.{name}.after", parameter.grad)
    clipping.append({"name": name, "maxNorm": max_norm, "norm": float(norm)})

EPOCHS, STEPS_PER_EPOCH = 3, 7
TOTAL = EPOCHS * STEPS_PER_EPOCH
BASE = 0.01


def torch_rates(make_main, warmup_epochs, start_factor):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=BASE)
    warmup_steps = round(warmup_epochs * STEPS_PER_EPOCH)
    if warmup_steps > 0:
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_steps)
        main = make_main(optimizer, TOTAL - warmup_steps, warmup_steps)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warmup_steps])
    else:
        scheduler = make_main(optimizer, TOTAL, 0)
    rates = []
    for _ in range(TOTAL):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def cosine(min_lr):
    return lambda optimizer, steps, _: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps,
                                                                                   eta_min=min_lr)


def multistep(milestones, gamma):
    # Our milestones are epochs of the whole run; SequentialLR restarts the second scheduler's count at the
    # end of the warm-up, so torch's are counted from there.
    return lambda optimizer, _, warmup_steps: torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[round(m * STEPS_PER_EPOCH) - warmup_steps for m in milestones], gamma=gamma)


schedules = []
for name, schedule, make_main in (
        ("cosine", {"kind": "cosine", "min_lr": 1e-4}, cosine(1e-4)),
        ("cosine_warmup", {"kind": "cosine", "min_lr": 5e-4, "warmup_epochs": 1, "warmup_start_factor": 0.1},
         cosine(5e-4)),
        ("step", {"kind": "step", "milestones": [1, 2], "gamma": 0.5}, multistep([1, 2], 0.5)),
        ("step_warmup", {"kind": "step", "milestones": [2], "gamma": 0.1, "warmup_epochs": 1,
                         "warmup_start_factor": 0.25}, multistep([2], 0.1))):
    rates = torch_rates(make_main, schedule.get("warmup_epochs", 0), schedule.get("warmup_start_factor", 1))
    schedules.append({"name": name, "schedule": schedule, "rates": rates})

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "tensors.f32"), "wb") as file:
    file.write(torch.cat(tensors).numpy().astype("<f4").tobytes())
with open(os.path.join(OUT, "cases.json"), "w") as file:
    json.dump({"tensors": index, "optimizers": optimizers, "clipping": clipping,
               "schedules": {"base": BASE, "epochs": EPOCHS, "stepsPerEpoch": STEPS_PER_EPOCH,
                             "cases": schedules}}, file, indent=1)
    file.write("\n")
print(f"wrote {offset} floats to {OUT}")
