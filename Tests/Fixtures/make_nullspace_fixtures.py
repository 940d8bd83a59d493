#!/usr/bin/env python3
"""Writes the fixture of the null-space selection tests in Tests/PromptingTests/NullSpaceTests.swift.
Developers run it; CI does not.

    pip install numpy scipy                              # used: numpy 2.4, scipy 1.17
    python3 Tests/Fixtures/make_nullspace_fixtures.py    # from anywhere; rewrites nullspace/cases.json

For singular-value spectra (descending, float64) of several shapes and sizes (n = 768, 128, 127 just under the
smoothing limit, 4 and 3), the null-space start index k (null space = right singular vectors k..<n) that NSP2's
official code gives (zugexiaodui/VPTinNSforCL, train_eval.py, get_update_projection_dict), re-implemented below:
  adaptive   `adaptive_threshold(S, offset)` for several offsets (`--null_thres_value1/2`, default 0)
  adam-nscl  `--null_thres_mode times`: mask S <= S[-1] * int(value), for several values; null when it is empty
             (the official code then fails its assert)
and, for two spectra, scipy.ndimage.gaussian_filter1d(S, sigma=10) itself, to test the smoothing on its own.
Spectra are rounded to 12 significant digits first, so the JSON holds exactly the values the rule saw.
Every case is checked to be decided by a clear maximum (or an exact tie): a near-tie within rounding would make
the expected index depend on the order of floating-point operations.
"""
import json
import os

import numpy as np
import scipy.ndimage

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nullspace")
OFFSETS = [0.0, 0.5, 3.0, -2.0, 10000.0]
MULTIPLIERS = [0.0, 1.0, 2.0, 50.0]


def second_difference(points):
    """The official rule's curve: smoothed for n >= 128 (then cut 1.5% at each end), and where it is centred."""
    n = len(points)
    if n >= 128:
        smoothed = scipy.ndimage.gaussian_filter1d(points, sigma=10)
        first = smoothed[:-1] - smoothed[1:]
        second = first[:-1] - first[1:]
        drop = int(n * 0.03 / 2)
        assert n - drop >= 10
        return second[drop:-drop], int((n - (len(second) - 2 * drop)) / 2)
    first = points[:-1] - points[1:]
    second = first[:-1] - first[1:]
    return second, int((n - len(second)) / 2)


def official_adaptive(points, offset):
    """train_eval.py, adaptive_threshold: the index where the zero mask starts."""
    n = len(points)
    curve, shift = second_difference(points)
    threshold = points[np.argmax(curve) + shift]
    start = np.arange(n)[points >= threshold].max()
    if 0 <= offset < 1:
        start = min(start + int(offset * (n - start)), n - 1)
    else:
        start = max(min(start + int(offset), n - 1), 0)
    return int(start)


def official_times(points, value):
    """train_eval.py, null_thres_mode 'times': S <= S[-1] * int(value), as a start index (None when empty)."""
    mask = points <= points[-1] * int(value)
    if not mask.any():
        return None
    start = int(np.argmax(mask))
    assert mask[start:].all(), "the mask of a descending spectrum is a suffix"
    return start


def check_clear_maximum(name, points):
    curve, _ = second_difference(points)
    order = np.sort(curve)[::-1]
    best, runner_up = order[0], order[1] if len(order) > 1 else -np.inf
    scale = np.max(np.abs(curve))
    if best != runner_up and best - runner_up < 1e-9 * scale:
        raise SystemExit(f"{name}: second-difference maximum {best} within rounding of {runner_up}; change the spectrum")


def rounded(values):
    values = np.array([float(f"{v:.12g}") for v in values], dtype=np.float64)
    assert np.all(values[:-1] >= values[1:]), "descending"
    return values


def spectra():
    rng = np.random.default_rng(2024)
    i768, i128, i127 = np.arange(768.0), np.arange(128.0), np.arange(127.0)
    # A statistics-like spectrum: the covariance of 2000 rows of 768 features with decaying scales and rank 400.
    x = rng.standard_normal((2000, 400)) @ (rng.standard_normal((400, 768)) * np.exp(-np.arange(768.0) / 150))
    covariance = x.T @ x / x.shape[0]
    yield "covariance-768", np.linalg.svd(covariance, compute_uv=False), True
    yield "decay-768", 100 * np.exp(-i768 / 80), True
    yield "gap-768", np.where(i768 < 500, 10 - i768 / 100, 1e-3 * np.exp(-(i768 - 500) / 100)), False
    # The same gap after an exponential decay: the decay's curvature at the start outweighs the smoothed gap.
    yield "decay-gap-768", np.where(i768 < 500, 50 * np.exp(-i768 / 100), 1e-3 * np.exp(-(i768 - 500) / 100)), False
    yield "powerlaw-768", (1 + i768) ** -1.5, False
    yield "flat-768", np.ones(768), False
    yield "gap-128", np.where(i128 < 100, 10 - i128 / 20, 1e-4 * np.exp(-(i128 - 100) / 10)), True
    yield "decay-128", np.exp(-i128 / 20), False
    yield "gap-127", np.where(i127 < 90, 10 - i127 / 20, 1e-4 * np.exp(-(i127 - 90) / 10)), False
    yield "decay-127", np.exp(-i127 / 20), False
    yield "flat-127", np.full(127, 2.5), False
    yield "keys-4-gap", np.array([5.0, 3.0, 0.1, 0.05]), False
    yield "keys-4-elbow-early", np.array([9.0, 1.0, 0.9, 0.8]), False
    yield "keys-4-linear", np.array([3.0, 2.0, 1.0, 0.0]), False
    yield "keys-4-rank-2", np.array([4.0, 2.0, 0.0, 0.0]), False
    yield "keys-4-flat", np.ones(4), False
    yield "keys-4-tail-tie", np.array([6.0, 0.5, 0.5, 0.5]), False
    yield "three-3", np.array([3.0, 1.0, 0.5]), False


def main():
    cases = []
    for name, values, keep_smoothed in spectra():
        points = rounded(values)
        check_clear_maximum(name, points)
        case = {
            "name": name,
            "singular_values": points.tolist(),
            "adaptive": [{"offset": o, "start": official_adaptive(points, o)} for o in OFFSETS],
            "adam_nscl": [{"multiplier": m, "start": official_times(points, m)} for m in MULTIPLIERS],
        }
        if keep_smoothed:
            case["smoothed"] = scipy.ndimage.gaussian_filter1d(points, sigma=10).tolist()
        cases.append(case)
        print(f"{name:22s} n={len(points):4d} adaptive k={case['adaptive'][0]['start']}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generator": "Tests/Fixtures/make_nullspace_fixtures.py", "cases": cases}, f)
        f.write("\n")
    print(f"wrote {os.path.join(OUT, 'cases.json')} ({os.path.getsize(os.path.join(OUT, 'cases.json'))} bytes)")


if __name__ == "__main__":
    main()
