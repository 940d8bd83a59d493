#!/usr/bin/env python3
"""Writes the fixtures of Tests/ContinualTests/JPEGDecoderTests.swift and CLIPImagePreprocessingTests.swift.
Developers run it; CI does not.

    pip install pillow numpy torch torchvision safetensors transformers
    # used: Pillow 13.0 (its bundled libjpeg-turbo), numpy 2.4, torch 2.15, torchvision 0.29, safetensors 0.8,
    # transformers 5.23
    python3 Tests/Fixtures/make_image_fixtures.py    # from anywhere; rewrites images/

Writes under images/:
  *.jpg               small photo-like JPEGs (gradients, noise, shapes drawn with PIL, a blur), written by Pillow:
                      non-square sizes, baseline and progressive, 4:2:0, 4:2:2 and 4:4:4, one grayscale, one CMYK
                      (Pillow writes an Adobe marker and inverted values), one downscaled by 2
  broken/*.jpg        truncated at half, a corrupted header (SOF length 2), corrupt scan data (a restart marker
                      where none belongs), an empty file, a PNG renamed .jpg
  expected.safetensors for each JPEG NAME (uint8 values stored as I32, which the Swift reader reads):
      NAME.rgb              (H, W, 3)  Pillow's Image.open(...).convert("RGB")
      NAME.crop             (3, 24, 24) CLIPImageProcessorPil(size={"shortest_edge": 24}, crop_size=24,
                            do_rescale=False, do_normalize=False) of that RGB: Pillow's bicubic resize + centre crop
      NAME.pixel_values     (3, 24, 24) F32 CLIPImageProcessor(size={"shortest_edge": 24}, crop_size=24) of the
                            opened file: transformers' default CLIP processor (torchvision backend)
      NAME.pixel_values_pil (3, 24, 24) F32 the same with CLIPImageProcessorPil (Pillow backend)
    and random uint8 images (noise: the hardest case for rounding) of several sizes and crop sizes S:
      resize/WxH_S.input    (H, W, 3), resize/WxH_S.crop (3, S, S) CLIPImageProcessorPil as above
  Pillow 13.0 runs the vertical pass of a resize first when the height shrinks by more than twice as many pixels
  as the width (earlier releases always ran the horizontal pass first); the pass order changes the rounding.
  The Swift tests find their cases from the tensor names.
"""
import io
import os

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPImageProcessorPil

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
SIZE = 24

# name: (width, height, mode, save options)
JPEGS = {
    "gradient_61x47_baseline_420": (61, 47, "RGB", dict(quality=90, subsampling=2)),
    "shapes_40x90_progressive_444": (40, 90, "RGB", dict(quality=92, subsampling=0, progressive=True)),
    "noise_33x33_baseline_444": (33, 33, "RGB", dict(quality=85, subsampling=0)),
    "wide_97x20_progressive_420": (97, 20, "RGB", dict(quality=88, subsampling=2, progressive=True)),
    "scene_64x48_baseline_422": (64, 48, "RGB", dict(quality=80, subsampling=1)),
    "gray_50x37_baseline": (50, 37, "L", dict(quality=90)),
    "cmyk_45x30_baseline": (45, 30, "CMYK", dict(quality=90)),
}
# (width, height, crop size): downscale by ~5.6, upscale, no resize at all, square, both odd; then tall images
# that Pillow (13.0 on) resizes vertically first, the height shrinking by more than twice as many pixels as the
# width, and the tie (exactly twice), horizontally first
RESIZES = [(70, 45, 8), (13, 29, 16), (40, 24, 24), (24, 24, 24), (31, 31, 24), (57, 39, 20),
           (30, 70, 12), (45, 100, 16), (20, 42, 10), (20, 40, 10)]


def photo_like(width, height, seed):
    """A smooth two-colour gradient with mild noise, a few filled shapes and a slight blur."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    t = (x / max(width - 1, 1) + y / max(height - 1, 1)) / 2
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    image += rng.normal(0, 12, image.shape)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(4):
        x0, y0 = rng.uniform(-0.2, 0.9) * width, rng.uniform(-0.2, 0.9) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.6) * width, y0 + rng.uniform(0.1, 0.6) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.uniform() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour)
    return picture.filter(ImageFilter.GaussianBlur(0.7))


def encoded(picture, **options):
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def as_i32(array):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int32))


def main():
    os.makedirs(os.path.join(OUT, "broken"), exist_ok=True)
    clip = CLIPImageProcessor(size={"shortest_edge": SIZE}, crop_size=SIZE)
    clip_pil = CLIPImageProcessorPil(size={"shortest_edge": SIZE}, crop_size=SIZE)
    tensors = {}
    for seed, (name, (width, height, mode, options)) in enumerate(JPEGS.items()):
        picture = photo_like(width, height, seed).convert(mode)
        path = os.path.join(OUT, name + ".jpg")
        write(path, encoded(picture, **options))
        opened = Image.open(path)
        assert opened.mode == mode and opened.size == (width, height), (name, opened.mode, opened.size)
        rgb = np.asarray(opened.convert("RGB"))
        tensors[name + ".rgb"] = as_i32(rgb)
        tensors[name + ".crop"] = as_i32(crop_of(rgb, SIZE))
        tensors[name + ".pixel_values"] = clip(Image.open(path), return_tensors="pt")["pixel_values"][0].float()
        tensors[name + ".pixel_values_pil"] = torch.from_numpy(
            clip_pil(Image.open(path), return_tensors="np")["pixel_values"][0].astype(np.float32))
        print(f"{name}.jpg: {os.path.getsize(path)} bytes")

    rng = np.random.default_rng(1234)
    for width, height, size in RESIZES:
        noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        key = f"resize/{width}x{height}_{size}"
        tensors[key + ".input"] = as_i32(noise)
        tensors[key + ".crop"] = as_i32(crop_of(noise, size))

    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    broken_fixtures()


def crop_of(rgb, size):
    """Pillow's bicubic resize of the shorter side to `size` and the centre crop, as uint8 (3, size, size)."""
    processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size=size, do_rescale=False,
                                      do_normalize=False)
    crop = processor(Image.fromarray(rgb, "RGB"), return_tensors="np")["pixel_values"][0]
    assert crop.dtype == np.uint8 and crop.shape == (3, size, size), (crop.dtype, crop.shape)
    return crop


def broken_fixtures():
    good = open(os.path.join(OUT, "gradient_61x47_baseline_420.jpg"), "rb").read()
    broken = os.path.join(OUT, "broken")
    write(os.path.join(broken, "truncated_half.jpg"), good[: len(good) // 2])

    header = bytearray(good)
    sof = header.index(b"\xff\xc0")
    header[sof + 2: sof + 4] = b"\x00\x02"  # a frame header of length 2 cannot hold its fields
    write(os.path.join(broken, "corrupt_header.jpg"), bytes(header))

    data = bytearray(good)
    scan = data.index(b"\xff\xda")
    scan_data = scan + 2 + int.from_bytes(data[scan + 2: scan + 4], "big")
    middle = (scan_data + len(data) - 2) // 2
    data[middle: middle + 2] = b"\xff\xd3"  # a restart marker in a file without restart intervals
    write(os.path.join(broken, "corrupt_data.jpg"), bytes(data))

    # Junk after the last scan, before EOI: libjpeg warns "59 extraneous bytes before marker 0xd9" (its bit
    # reader takes the first few bytes; 4 bytes of junk make no warning), Pillow decodes the whole image
    # silently, and so must the decoder.
    tolerated = os.path.join(OUT, "tolerated")
    os.makedirs(tolerated, exist_ok=True)
    assert good[-2:] == b"\xff\xd9"
    write(os.path.join(tolerated, "junk_before_eoi.jpg"), good[:-2] + bytes(range(1, 65)) + good[-2:])

    write(os.path.join(broken, "empty.jpg"), b"")
    png = io.BytesIO()
    photo_like(20, 20, 99).save(png, "PNG")
    write(os.path.join(broken, "png_renamed.jpg"), png.getvalue())


if __name__ == "__main__":
    main()
