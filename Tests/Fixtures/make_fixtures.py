#!/usr/bin/env python3
"""Regenerates every fixture under Tests/Fixtures (developers only; CI never runs it, the tests only read
what it wrote). Needs: pip install torch transformers safetensors numpy scipy, and the clip-anytorch wheel,
which carries CLIP's MIT-licensed BPE vocabulary:

    pip download --no-deps -d /tmp/clipvocab clip-anytorch
    python3 Tests/Fixtures/make_fixtures.py --wheel /tmp/clipvocab/clip_anytorch-2.6.0-py3-none-any.whl

Runs, in order (the model fixtures use the small vocabulary the tokenizer script writes):
    make_tokenizer_fixtures.py --wheel W   Sources/CLIP/Resources/clip-vocabulary/, small-vocabulary/, tokenizer/cases.json
    make_safetensors_fixtures.py           safetensors/, configs/
    make_model_fixtures.py                 models/tiny-a, models/tiny-b
    make_mpl_fixtures.py                   models/tiny-{a,b}/mpl-parity.safetensors (MPL's remove-then-insert)
    make_optimizer_fixtures.py             optimizers/ (Adam, AdamW, SGD, clipping, lr schedules)
    make_nullspace_fixtures.py             nullspace/cases.json (NSP2's null-space start indices, numpy + scipy)
"""
import argparse
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--wheel", required=True, help="clip-anytorch wheel (from pip download)")
arguments = parser.parse_args()

for script, argv in (("make_tokenizer_fixtures.py", ["--wheel", arguments.wheel]),
                     ("make_safetensors_fixtures.py", []),
                     ("make_model_fixtures.py", []),
                     ("make_mpl_fixtures.py", []),
                     ("make_optimizer_fixtures.py", []),
                     ("make_nullspace_fixtures.py", [])):
    print(f"== {script}", flush=True)
    sys.argv = [script] + argv
    runpy.run_path(os.path.join(HERE, script), run_name="__main__")
