"""Writes src/data/hf-split.fixture.json: the row orders QMD's Python tools draw, for
src/data/hf-split.test.ts and src/data/py-random.test.ts (which need no Python).

- numpy's Generator.permutation (PCG64 seeded through SeedSequence), what Hugging Face datasets
  `Dataset.shuffle(seed=…)` and `Dataset.train_test_split(test_size=…, seed=…)` draw;
- those two on a dataset of row numbers: the v4 run's split, and QMD's current train.py
  (shuffle(seed=42), then train_test_split(test_size=eval_split, seed=42));
- Python's random.seed(n) + random.shuffle, what QMD's dataset/prepare_data.py shuffles with.

Regenerate (datasets and numpy in a virtual environment):
  python3 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install datasets numpy
  /tmp/hf-venv/bin/python scripts/reference/hf_split.py > src/data/hf-split.fixture.json
"""

import hashlib
import json
import platform
import random
import sys

import datasets
import numpy as np


def digest(values):
    """sha256 of the comma-joined decimal values: a long order in a few bytes."""
    return hashlib.sha256(",".join(str(int(v)) for v in values).encode()).hexdigest()


def rows(n):
    return datasets.Dataset.from_dict({"i": list(range(n))})


def python_shuffle(seed, n):
    random.seed(seed)
    order = list(range(n))
    random.shuffle(order)
    return order


pcg = np.random.PCG64(42)
first = [int(v) for v in pcg.random_raw(4)]

permutations = [
    {"seed": seed, "n": n, "permutation": [int(v) for v in np.random.default_rng(seed).permutation(n)]}
    for seed, n in [(42, 1), (42, 2), (42, 10), (42, 100), (0, 50), (7, 3), (2**32 - 1, 37)]
]

splits = []
for n, test_size, seed in [(10, 0.1, 42), (57, 0.1, 42), (200, 0.25, 3)]:
    for shuffle_first in (False, True):
        ds = rows(n).shuffle(seed=seed) if shuffle_first else rows(n)
        split = ds.train_test_split(test_size=test_size, seed=seed)
        splits.append({"n": n, "test_size": test_size, "seed": seed, "shuffle_first": shuffle_first,
                       "train": list(split["train"]["i"]), "test": list(split["test"]["i"])})

# The data QMD trains on: 5,730 rows (the v4 run's split), and 5,157 rows of a prepared train.jsonl.
large = []
for n, shuffle_first in [(5730, False), (5157, True)]:
    ds = rows(n).shuffle(seed=42) if shuffle_first else rows(n)
    split = ds.train_test_split(test_size=0.1, seed=42)
    large.append({"n": n, "test_size": 0.1, "seed": 42, "shuffle_first": shuffle_first,
                  "test_first": list(split["test"]["i"])[:16], "train_first": list(split["train"]["i"])[:16],
                  "test_sha256": digest(split["test"]["i"]), "train_sha256": digest(split["train"]["i"])})

shuffles = [{"seed": seed, "n": n, "order": python_shuffle(seed, n)}
            for seed, n in [(42, 1), (42, 2), (42, 10), (42, 100), (0, 30), (2**32 - 1, 25), (2**32, 10), (2**40 + 5, 12)]]
big_shuffle = python_shuffle(42, 5730)

json.dump({
    "written_by": "scripts/reference/hf_split.py",
    "versions": {"python": platform.python_version(), "numpy": np.__version__, "datasets": datasets.__version__},
    "pcg64_seed42_random_raw": [str(v) for v in first],
    "numpy_permutations": permutations,
    "hf_splits": splits,
    "hf_splits_large": large,
    "python_shuffles": shuffles,
    "python_shuffle_large": {"seed": 42, "n": 5730, "first": big_shuffle[:16], "sha256": digest(big_shuffle)},
}, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
