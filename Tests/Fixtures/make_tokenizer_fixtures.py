"""Writes the tokenizer fixtures that CLIPTests compare against (run by developers, never by CI).

What it writes, under Tests/Fixtures/:
  Sources/CLIP/Resources/clip-vocabulary/   vocab.json + merges.txt + LICENSE: OpenAI CLIP's BPE vocabulary in
                     Hugging Face format, bundled with promptcl (the tokenizer of models built with random weights)
                     (49408 ids: 256 byte characters, the same with "</w>", 48894 merges, <|startoftext|>,
                     <|endoftext|>), exactly what transformers' CLIPTokenizer reads from a model folder.
  small-vocabulary/  the same built from the first 488 merges only (1002 ids), for tiny test models.
  tokenizer/cases.json
                     for each vocabulary, strings with the ids transformers' CLIPTokenizer gives for
                     `encode` (no special tokens) and `tokenize` (context length 77: SOT + ids + EOT,
                     truncated keeping EOT, padded with <|endoftext|>).

What it needs: Python 3 with transformers 5.23 (which brings tokenizers 0.23) and the clip-anytorch wheel
(MIT, OpenAI's CLIP packaged on PyPI), which holds clip/bpe_simple_vocab_16e6.txt.gz and the LICENSE:

    pip download --no-deps -d /tmp/clipvocab clip-anytorch
    python3 Tests/Fixtures/make_tokenizer_fixtures.py --wheel /tmp/clipvocab/clip_anytorch-2.6.0-py3-none-any.whl

Everything it writes is deterministic (a fixed list of strings plus seeded random combinations), so running
it again with the same versions changes nothing.
"""

import argparse
import gzip
import json
import random
import zipfile
from pathlib import Path

import tokenizers
import transformers
from transformers import CLIPTokenizer

FIXTURES = Path(__file__).resolve().parent
BUNDLED_VOCABULARY = FIXTURES.parent.parent / "Sources" / "CLIP" / "Resources" / "clip-vocabulary"
CONTEXT_LENGTH = 77
SMALL_MERGES = 488
SEED = 20240607

ATTRIBUTION = """\
The files in this folder are derived from bpe_simple_vocab_16e6.txt.gz of OpenAI's CLIP
(https://github.com/openai/CLIP), as packaged in clip-anytorch 2.6.0 (https://github.com/rom1504/CLIP),
converted to the Hugging Face vocab.json + merges.txt format by Tests/Fixtures/make_tokenizer_fixtures.py.
The license of that work follows.

"""


def bytes_to_unicode():
    """GPT-2's byte -> character table, in vocabulary order (printable bytes first)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


def write_vocabulary(folder, merges, license_text):
    """vocab.json (compact, ids in order) + merges.txt ("#version: 0.2" header) + LICENSE."""
    characters = bytes_to_unicode()
    tokens = characters + [c + "</w>" for c in characters]
    tokens += ["".join(merge.split(" ")) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(tokens)) == len(tokens), "duplicate token"
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False, separators=(",", ":")),
                                       encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "LICENSE").write_text(ATTRIBUTION + license_text, encoding="utf-8")
    return len(tokens)


FIXED = [
    # Plain captions and mixed case.
    "a photo of a cat",
    "A Photo Of A CAT",
    "a diagram",
    "a dog on the beach at sunset",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX",
    "camelCaseWordsAndPascalCase",
    "iPhone eBay McDonald's",
    # The empty string, whitespace only, punctuation only.
    "",
    " ",
    "     ",
    "\t\n\r ",
    "!",
    "?!...",
    "!!!???",
    "...",
    "--",
    "()[]{}<>",
    "@#$%^&*_+=|\\/~`",
    ";:,.",
    "\"quoted\" 'single'",
    # Whitespace: tabs, newlines, runs of spaces, Unicode spaces.
    "hello   world",
    "hello\tworld",
    "hello\nworld",
    "  leading and trailing  ",
    "line one\r\nline two\n\nline three",
    "no\u00a0break\u2003em\u3000ideographic",
    "next\u0085line and\u2028separator\u2029paragraph",
    "file\x1cgroup\x1drecord\x1eunit\x1f",
    "zero\u200bwidth\u200cjoiner\u200dnon\ufeffbom",
    "vertical\x0btab\x0cform feed",
    # Contractions.
    "don't won't can't",
    "I'm you're we've they'll he'd she's it's",
    "I'M YOU'RE WE'VE THEY'LL HE'D SHE'S",
    "'s 't 're 've 'm 'll 'd",
    "'sup 'twas 'ready",
    "rock'n'roll o'clock",
    "!'s ?'ll",
    "it’s curly",
    "'ſ long s",
    "''",
    # Digits.
    "123",
    "3.14159",
    "1,000,000 people",
    "2023-01-15 12:30:45",
    "route 66",
    "abc123def456",
    "½ ¼ ² ³ ⅷ ⑤ ٣ ३ ๓",
    "０１２ full-width digits",
    # Accents and other Latin diacritics.
    "café crème brûlée",
    "naïve façade jalapeño",
    "Ångström Ærø Øresund",
    "straße STRASSE",
    "İstanbul ıi",
    "Łódź Kraków Gdańsk",
    "Dvořák Škoda Čeština",
    "ﬁ ﬂ ligatures",
    "cafe\u0301 decomposed",
    "A\u030a e\u0301\u0327 o\u0308\u0304",
    "e\u0323\u0307 reordered marks",
    "\u0301 leading combining mark",
    "Ǆ ǅ ǆ titlecase",
    "ＫＡＴＡ full-width latin Ｋ",
    "\u212a kelvin sign",
    # Greek and Cyrillic.
    "ΣΑΣ σας",
    "Οδυσσεύς",
    "αβγ δεζ",
    "Москва ПРИВЕТ мир",
    "Ёлка ёж",
    "Україна їжак",
    # CJK and other scripts.
    "東京タワー",
    "猫の写真",
    "一只猫坐在垫子上",
    "한국어 텍스트",
    "\u1100\u1161\u11a8 jamo",
    "ภาษาไทย",
    "עברית שלום",
    "العربية مرحبا",
    "हिन्दी नमस्ते",
    "a\ua7cdb !\ua7cd? Unicode 16 letter",
    "a\ua7cfb x\u0c5cy !\ua7ce? Unicode 17 letters",
    # Emoji: single, modifiers, ZWJ sequences, flags, keycaps.
    "😀",
    "I love 🍕 and 🍣!",
    "👍👍🏻👍🏿",
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈 flag",
    "🇺🇸🇯🇵",
    "#️⃣ 1️⃣",
    "❤️ ♥ ★",
    "🧑🏽‍💻 coder",
    # HTML-ish text and URLs.
    "<b>bold</b>",
    "<a href=\"https://example.com\">link</a>",
    "&amp; &lt; &gt; &quot;",
    "<br/><p>para</p>",
    "https://www.example.com/path?query=1&x=y#frag",
    "mailto:someone@example.org",
    "C:\\Users\\name\\file.txt",
    "snake_case_name and kebab-case-name",
    "#hashtag @mention",
    # Special tokens in the text.
    "<|startoftext|>",
    "<|endoftext|>",
    "a<|endoftext|>b",
    "<|startoftext|>hello<|endoftext|>",
    "a <|ENDOFTEXT|> b",
    "<|EndOfText|>!? x<|STARTOFTEXT|>.",
    "x!<|endoftext|>",
    "<|endoftext|>!",
    "<|endoftext|>\u0301",
    "<|startoftext|><|endoftext|><|startoftext|>",
    "<|start of text|>",
    "<|",
    "|>",
    # Control characters.
    "tab\tand\u0000null",
    "bell\u0007",
    "\u00ad soft hyphen",
    # Long texts (over 77 tokens).
    "a photo of a cat " * 20,
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38",
    "猫" * 100,
    "😀" * 40,
    "supercalifragilisticexpialidocious" * 5,
    "x" * 300,
    "!" * 200,
    "a " * 76,
    "a " * 75,
    "a " * 74,
]

# Pieces for the random combinations; RANDOM_RANGES are code point ranges to draw single characters from.
WORDS = [
    "photo", "cat", "dog", "red", "Car", "STREET", "tree", "of", "a", "the", "in", "on", "with", "night",
    "café", "naïve", "straße", "Москва", "東京", "猫", "한국", "Σοφία", "😀", "👍🏽", "🇫🇷", "❤️",
    "don't", "it's", "we'll", "42", "3.5", "100%", "#1", "e-mail", "<b>", "&amp;", "http://a.b/c",
    "<|endoftext|>", "<|startoftext|>", "İ", "ǅ", "x\u0301", "…", "—", "«»", "“”",
]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "", ", ", ". ", "-", "'", "\u00a0", " \r\n "]
RANDOM_RANGES = [
    (0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x4E00, 0x4FFF), (0x3040, 0x30FF), (0xAC00, 0xAD00), (0x2000, 0x206F), (0x1F600, 0x1F64F),
    (0x1F3FB, 0x1F3FF),
]


def random_texts(rng, count):
    """`count` seeded combinations: words with random separators and case, and runs of random characters."""
    texts = []
    for index in range(count):
        if index % 3 == 2:
            low, high = RANDOM_RANGES[rng.randrange(len(RANDOM_RANGES))]
            texts.append("".join(chr(rng.randint(low, high)) for _ in range(rng.randint(1, 12)))
                         + rng.choice(SEPARATORS)
                         + "".join(chr(rng.randint(*rng.choice(RANDOM_RANGES))) for _ in range(rng.randint(1, 8))))
        else:
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 12))]
            words = [w.upper() if rng.random() < 0.2 else w.title() if rng.random() < 0.2 else w for w in words]
            text = words[0]
            for word in words[1:]:
                text += rng.choice(SEPARATORS) + word
            texts.append(text)
    return texts


def cases(tokenizer, texts):
    result = []
    for text in texts:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        tokenized = tokenizer(text, max_length=CONTEXT_LENGTH, truncation=True, padding="max_length")["input_ids"]
        assert len(tokenized) == CONTEXT_LENGTH and tokenized[0] == tokenizer.bos_token_id
        result.append({"text": text, "encode": encoded, "tokenize": tokenized})
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", required=True, type=Path, help="clip-anytorch wheel (from pip download)")
    arguments = parser.parse_args()

    with zipfile.ZipFile(arguments.wheel) as wheel:
        bpe = gzip.decompress(wheel.read("clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
        license_name = next(name for name in wheel.namelist() if name.endswith(".dist-info/LICENSE"))
        license_text = wheel.read(license_name).decode("utf-8")
    # As OpenAI's simple_tokenizer.py: skip the header line, keep 49152 - 256 - 2 merges.
    merges = bpe.split("\n")[1:49152 - 256 - 2 + 1]

    rng = random.Random(SEED)
    texts = FIXED + random_texts(rng, 150)
    small_texts = FIXED[::4][:20] + random_texts(rng, 12)

    sections = []
    for folder, count, section_texts in [("clip-vocabulary", len(merges), texts),
                                         ("small-vocabulary", SMALL_MERGES, small_texts)]:
        directory = BUNDLED_VOCABULARY if folder == "clip-vocabulary" else FIXTURES / folder
        size = write_vocabulary(directory, merges[:count], license_text)
        tokenizer = CLIPTokenizer.from_pretrained(str(directory))
        assert len(tokenizer) == size, f"{folder}: transformers sees {len(tokenizer)} ids, wrote {size}"
        sections.append({
            "folder": folder,
            "vocabularySize": size,
            "startOfText": tokenizer.bos_token_id,
            "endOfText": tokenizer.eos_token_id,
            "padding": tokenizer.pad_token_id,
            "cases": cases(tokenizer, section_texts),
        })
        print(f"{folder}: {size} ids, {len(section_texts)} cases")

    header = {
        "generator": "Tests/Fixtures/make_tokenizer_fixtures.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "tokenizerClass": f"{type(tokenizer).__module__}.{type(tokenizer).__name__}",
        "contextLength": CONTEXT_LENGTH,
    }
    # One case per line, so that a change shows as a small diff.
    lines = ["{"] + [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in header.items()]
    lines.append(' "vocabularies": [')
    for index, section in enumerate(sections):
        fields = {key: value for key, value in section.items() if key != "cases"}
        lines.append("  " + json.dumps(fields, ensure_ascii=False)[:-1] + ', "cases": [')
        lines += ["   " + json.dumps(case, ensure_ascii=False, separators=(",", ":"))
                  + ("," if n + 1 < len(section["cases"]) else "") for n, case in enumerate(section["cases"])]
        lines.append("  ]}" + ("," if index + 1 < len(sections) else ""))
    lines += [" ]", "}"]
    output = FIXTURES / "tokenizer" / "cases.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json.loads(output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
