#!/usr/bin/env python3
"""Writes the source-dataset fixtures of Tests/ContinualTests (FashionMNISTReaderTests, CIFAR100ReaderTests,
ClassFolderReaderTests, DomainNetReaderTests, COCOReaderTests, PreparedDatasetTests). Developers run it; CI does not.

    pip install numpy pillow                          # used: numpy 2.4, Pillow 12
    python3 Tests/Fixtures/make_prepare_fixtures.py   # from anywhere; rewrites Tests/Fixtures/prepare/

Each dataset is a few tiny images in its real distribution format, with expected.json saying what a reader must
give (labels, captions, and the pixels where the format stores them raw), and broken copies that a reader must
refuse with an error naming the file:
  fashion-mnist/             gzipped IDX (train 12 images, t10k 4), 28 x 28 gray; expected.json also has the test
                             images resized to 32 px by Pillow (bicubic), as CLIPImageProcessor does
    -truncated/              train images: the data 100 bytes short of what the header says
    -wrong-magic/            train images: magic 0 0 0x0d 3 (float data, not unsigned bytes)
    -label-count/            train labels: 11 labels for the 12 images
    -bad-gzip/               train images: the gzip stream cut in the middle
  cifar100/                  binary records (train.bin 10, test.bin 4), fine_label_names.txt (the 100 names)
    -cut/                    train.bin: its last record cut short by 1000 bytes
    -bad-label/              train.bin: record 3 has fine label 100
    -names/                  fine_label_names.txt: 99 names
  imagenet-r/                ROOT/CLASS/*.jpg: 3 classes of 5, 4 and 6 square 16 px JPEGs (4:4:4, quality 95),
                             README.txt naming the class folders ("n01443537 goldfish"), a stray non-image file
    -empty-class/            a class folder without images
  domainnet/                 clipart_train.txt, clipart_test.txt, sketch_train.txt, sketch_test.txt ("path label"
                             lines) over DOMAIN/CLASS/*.jpg, 3 classes
    -missing-file/           clipart_train.txt line 2 names a file that is not there
    -bad-line/               sketch_test.txt line 3 has no label
  coco/                      annotations/captions_{train,val}2017.json and instances_{train,val}2017.json, JPEGs of
                             24 x 16 and 16 x 20 in train2017/ and val2017/; 12 categories, one per supercategory;
                             captions: 5 per image, one image with 6; one train image without instances (dropped)
    -missing-image/          captions_train2017.json lists an image whose file is missing
    -bad-json/               instances_val2017.json cut in the middle
    -unknown-image/          captions_train2017.json has a caption of an image id it does not list
JPEG pixels in expected.json are Pillow's decoding (libjpeg-turbo, as promptcl's decoder).
"""
import gzip
import json
import os
import shutil

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prepare")
RNG = np.random.default_rng(20261122)

CIFAR_NAMES = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel
can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant
flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree
motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel
streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm""".split()
assert len(CIFAR_NAMES) == 100


def fresh(name):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def pattern(height, width, channels):
    """A distinct image: a random gradient plus noise, so that every fixture image differs."""
    y, x = np.mgrid[0:height, 0:width]
    base = RNG.integers(0, 256, size=channels)
    slope = RNG.integers(-6, 7, size=(2, channels))
    image = base + slope[0] * y[..., None] + slope[1] * x[..., None] + RNG.integers(-20, 21, size=(height, width, channels))
    return np.clip(image, 0, 255).astype(np.uint8)


# MARK: Fashion-MNIST

def idx(data, magic):
    header = bytes(magic) + b"".join(int(d).to_bytes(4, "big") for d in data.shape)
    return header + data.tobytes()


def fashion_mnist():
    sets = {}
    for stem, count in [("train", 12), ("t10k", 4)]:
        images = np.stack([pattern(28, 28, 1)[..., 0] for _ in range(count)])
        labels = np.array([(3 * i + 1) % 10 for i in range(count)], dtype=np.uint8)
        sets[stem] = (images, labels)
    good = fresh("fashion-mnist")
    for stem, (images, labels) in sets.items():
        write(f"{good}/{stem}-images-idx3-ubyte.gz", gz(idx(images, [0, 0, 8, 3])))
        write(f"{good}/{stem}-labels-idx1-ubyte.gz", gz(idx(labels, [0, 0, 8, 1])))
    expected = {"train" if stem == "train" else "test": {"labels": labels.tolist(), "images": images.reshape(len(images), -1).tolist()}
                for stem, (images, labels) in sets.items()}
    # The test images as CLIPImageProcessor sizes them at 32 px: Pillow's bicubic resize (square: no crop).
    expected["test"]["images_32"] = [np.asarray(Image.fromarray(image).convert("RGB").resize((32, 32), Image.BICUBIC))
                                     .transpose(2, 0, 1).reshape(-1).tolist() for image in sets["t10k"][0]]
    with open(f"{good}/expected.json", "w") as f:
        json.dump(expected, f)

    def broken(name, train_images=None, train_labels=None):
        path = fresh(name)
        for file in os.listdir(good):
            if file != "expected.json":
                shutil.copy(f"{good}/{file}", path)
        if train_images is not None:
            write(f"{path}/train-images-idx3-ubyte.gz", train_images)
        if train_labels is not None:
            write(f"{path}/train-labels-idx1-ubyte.gz", train_labels)

    images, labels = sets["train"]
    broken("fashion-mnist-truncated", train_images=gz(idx(images, [0, 0, 8, 3])[:-100]))
    broken("fashion-mnist-wrong-magic", train_images=gz(idx(images, [0, 0, 0x0D, 3])))
    broken("fashion-mnist-label-count", train_labels=gz(idx(labels[:11], [0, 0, 8, 1])))
    whole = gz(idx(images, [0, 0, 8, 3]))
    broken("fashion-mnist-bad-gzip", train_images=whole[: len(whole) // 2])


# MARK: CIFAR-100

def cifar100():
    sets = {}
    for split, count in [("train", 10), ("test", 4)]:
        images = np.stack([pattern(32, 32, 3) for _ in range(count)])
        fine = np.array([(37 * i + 5) % 100 for i in range(count)], dtype=np.uint8)
        coarse = np.array([i % 20 for i in range(count)], dtype=np.uint8)
        sets[split] = (images, fine, coarse)

    def records(images, fine, coarse):
        return b"".join(bytes([c, f]) + image.transpose(2, 0, 1).tobytes() for image, f, c in zip(images, fine, coarse))

    good = fresh("cifar100")
    for split, data in sets.items():
        write(f"{good}/{split}.bin", records(*data))
    write(f"{good}/fine_label_names.txt", ("\n".join(CIFAR_NAMES) + "\n").encode())
    with open(f"{good}/expected.json", "w") as f:
        json.dump({split: {"labels": fine.tolist(), "images": images.transpose(0, 3, 1, 2).reshape(len(images), -1).tolist()}
                   for split, (images, fine, _) in sets.items()}, f)

    def broken(name, train=None, names=None):
        path = fresh(name)
        for file in ["train.bin", "test.bin", "fine_label_names.txt"]:
            shutil.copy(f"{good}/{file}", path)
        if train is not None:
            write(f"{path}/train.bin", train)
        if names is not None:
            write(f"{path}/fine_label_names.txt", names)

    broken("cifar100-cut", train=records(*sets["train"])[:-1000])
    images, fine, coarse = sets["train"]
    bad = fine.copy()
    bad[3] = 100
    broken("cifar100-bad-label", train=records(images, bad, coarse))
    broken("cifar100-names", names=("\n".join(CIFAR_NAMES[:99]) + "\n").encode())


# MARK: JPEG datasets

def jpeg(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path, quality=95, subsampling=0)
    return np.asarray(Image.open(path).convert("RGB"))


def imagenet_r():
    root = fresh("imagenet-r")
    classes = [("n01443537", "goldfish", 5), ("n01484850", "great white shark", 4), ("n01494475", "hammerhead", 6)]
    expected = {"class_names": [name for _, name, _ in classes], "files": {}}
    for label, (wnid, _, count) in enumerate(classes):
        for i in range(count):
            relative = f"{wnid}/{wnid}_{i}.jpg"
            pixels = jpeg(f"{root}/{relative}", pattern(16, 16, 3))
            expected["files"][relative] = {"label": label, "image": pixels.transpose(2, 0, 1).reshape(-1).tolist()}
    write(f"{root}/README.txt", ("ImageNet-R fixture: 3 of the 200 classes\n"
                                  + "".join(f"{wnid} {name}\n" for wnid, name, _ in classes)).encode())
    write(f"{root}/n01443537/notes.txt", b"not an image\n")
    with open(f"{root}/expected.json", "w") as f:
        json.dump(expected, f)

    empty = fresh("imagenet-r-empty-class")
    shutil.copytree(f"{root}/n01443537", f"{empty}/n01443537")
    os.makedirs(f"{empty}/n01484850")
    # git keeps no empty folder: a file that is no image holds it (the reader must ignore it).
    open(f"{empty}/n01484850/.gitkeep", "w").close()


def domainnet():
    root = fresh("domainnet")
    classes = ["aircraft_carrier", "alarm_clock", "ant"]
    expected = {"class_names": [c.replace("_", " ") for c in classes], "train": [], "test": []}
    for domain in ["clipart", "sketch"]:
        for split, count in [("train", 4), ("test", 2)]:
            lines = []
            for i in range(count):
                label = (i + len(domain)) % 3
                relative = f"{domain}/{classes[label]}/{domain}_{split}_{i:03d}.jpg"
                pixels = jpeg(f"{root}/{relative}", pattern(16, 16, 3))
                lines.append(f"{relative} {label}\n")
                expected[split].append({"file": relative, "label": label,
                                        "image": pixels.transpose(2, 0, 1).reshape(-1).tolist()})
            write(f"{root}/{domain}_{split}.txt", "".join(lines).encode())
    with open(f"{root}/expected.json", "w") as f:
        json.dump(expected, f)

    missing = fresh("domainnet-missing-file")
    shutil.copytree(root, missing, dirs_exist_ok=True)
    os.remove(f"{missing}/expected.json")
    with open(f"{missing}/clipart_train.txt") as f:
        lines = f.readlines()
    lines[1] = "clipart/ant/clipart_train_999.jpg 2\n"
    write(f"{missing}/clipart_train.txt", "".join(lines).encode())

    bad = fresh("domainnet-bad-line")
    shutil.copytree(root, bad, dirs_exist_ok=True)
    os.remove(f"{bad}/expected.json")
    with open(f"{bad}/sketch_test.txt") as f:
        lines = f.readlines()
    lines.append("sketch/ant/sketch_test_000.jpg\n")
    write(f"{bad}/sketch_test.txt", "".join(lines).encode())


LPI_ORDER = ["appliance", "sports", "outdoor", "electronic", "accessory", "indoor", "kitchen", "furniture", "vehicle",
             "food", "animal", "person"]
CATEGORIES = [(1, "person", "person"), (2, "bicycle", "vehicle"), (11, "fire hydrant", "outdoor"), (17, "cat", "animal"),
              (27, "backpack", "accessory"), (34, "frisbee", "sports"), (44, "bottle", "kitchen"), (52, "banana", "food"),
              (62, "chair", "furniture"), (72, "tv", "electronic"), (78, "microwave", "appliance"), (84, "book", "indoor")]


def coco():
    root = fresh("coco")
    supercategory = {cid: sup for cid, _, sup in CATEGORIES}
    # Per split: image id -> (size (w, h), [(category id, area)], caption count).
    layout = {
        "train": {
            9: ((24, 16), [(17, 120.0), (1, 80.5)], 5),                 # animal
            25: ((16, 20), [(2, 50.0), (2, 60.0), (1, 100.0)], 6),     # vehicle 110 over person 100
            30: ((24, 16), [(78, 40.0), (34, 40.0)], 5),               # tie: appliance before sports in LPI order
            42: ((16, 20), [], 5),                                     # no instances: dropped
            49: ((24, 16), [(52, 10.0), (84, 5.0), (84, 6.0)], 5),     # indoor 11 over food 10
            61: ((16, 20), [(1, 300.0)], 5),                           # person
        },
        "val": {
            139: ((24, 16), [(62, 70.0), (72, 20.0)], 5),              # furniture
            285: ((16, 20), [(11, 33.0)], 5),                          # outdoor
            632: ((24, 16), [(27, 12.0), (44, 13.0)], 5),              # kitchen
        },
    }
    expected = {"class_names": LPI_ORDER}
    annotation_id = 1000
    for split, images in layout.items():
        folder = f"{split}2017"
        captions = {"info": {"description": "promptcl COCO fixture"}, "images": [], "annotations": []}
        instances = {"info": {}, "images": [], "annotations": [],
                     "categories": [{"id": cid, "name": name, "supercategory": sup} for cid, name, sup in CATEGORIES]}
        samples = []
        for image_id, ((width, height), objects, caption_count) in images.items():
            name = f"{image_id:012d}.jpg"
            pixels = jpeg(f"{root}/{folder}/{name}", pattern(height, width, 3))
            record = {"id": image_id, "file_name": name, "width": width, "height": height}
            captions["images"].append(record)
            instances["images"].append(record)
            texts = [f"image {image_id} caption {k}: a scene with things" for k in range(caption_count)]
            for text in texts:
                annotation_id += 1
                captions["annotations"].append({"id": annotation_id, "image_id": image_id, "caption": text})
            areas = {}
            for category, area in objects:
                annotation_id += 1
                instances["annotations"].append({"id": annotation_id, "image_id": image_id, "category_id": category,
                                                 "area": area, "iscrowd": 0, "bbox": [0, 0, 1, 1],
                                                 "segmentation": [[0, 0, 1, 0, 1, 1]]})
                areas[supercategory[category]] = areas.get(supercategory[category], 0) + area
            if areas:
                best = max(areas.values())
                label = min(LPI_ORDER.index(s) for s, a in areas.items() if a == best)
                samples.append({"image_id": image_id, "file": f"{folder}/{name}", "label": label, "captions": texts,
                                "width": width, "height": height,
                                "image": pixels.transpose(2, 0, 1).reshape(-1).tolist()})
        # Captions listed against their id order: the reader sorts them by id.
        captions["annotations"].reverse()
        write(f"{root}/annotations/captions_{folder}.json", json.dumps(captions).encode())
        write(f"{root}/annotations/instances_{folder}.json", json.dumps(instances).encode())
        expected["train" if split == "train" else "test"] = sorted(samples, key=lambda s: s["image_id"])
    with open(f"{root}/expected.json", "w") as f:
        json.dump(expected, f)

    def broken(name):
        path = fresh(name)
        shutil.copytree(root, path, dirs_exist_ok=True)
        os.remove(f"{path}/expected.json")
        return path

    path = broken("coco-missing-image")
    os.remove(f"{path}/train2017/000000000049.jpg")
    path = broken("coco-bad-json")
    with open(f"{path}/annotations/instances_val2017.json", "rb") as f:
        data = f.read()
    write(f"{path}/annotations/instances_val2017.json", data[: len(data) // 2])
    path = broken("coco-unknown-image")
    with open(f"{path}/annotations/captions_train2017.json") as f:
        captions = json.load(f)
    captions["annotations"].append({"id": 5, "image_id": 77, "caption": "a caption of no listed image"})
    write(f"{path}/annotations/captions_train2017.json", json.dumps(captions).encode())


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    fashion_mnist()
    cifar100()
    imagenet_r()
    domainnet()
    coco()
