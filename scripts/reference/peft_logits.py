"""Prints the logits transformers + PEFT compute for our PEFT export on a seeded tiny Qwen3.

The model, the adapter (adapter_config.json + adapter_model.safetensors as our writer, src/model/peft.ts
writePeftAdapter, makes them) and the prompt token ids come from scripts/make-peft-reference.ts; PEFT loads
the adapter with PeftModel.from_pretrained, warnings as errors, in float32 on the CPU. The output is the
fixture src/model/peft-logits.test.ts compares our ONNX graph against. Regenerate it with:

    python3 -m venv /tmp/venv-h5 && /tmp/venv-h5/bin/pip install torch transformers peft
    npx tsx scripts/make-peft-reference.ts /tmp/peft-reference
    /tmp/venv-h5/bin/python scripts/reference/peft_logits.py /tmp/peft-reference > src/model/peft-logits.fixture.json

Per prompt and position it keeps the logits at a fixed spread of token ids and at the top few of the adapter's,
the full-vocabulary log-sum-exp and max |logit| (the tolerance's scale), with the adapter and without it
(disable_adapter), so the test can tell an adapter that was applied from one that was not.
"""

import hashlib
import json
import sys
import warnings
from pathlib import Path

import peft
import torch
import transformers
from peft import PeftModel
from transformers import AutoModelForCausalLM

COMMAND = "/tmp/venv-h5/bin/python scripts/reference/peft_logits.py /tmp/peft-reference > src/model/peft-logits.fixture.json"
# Every 4999th id spans the whole 151,936-token vocabulary in 31 values.
SPREAD = list(range(0, 151936, 4999))
TOP = 5


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def summary(logits: torch.Tensor, ids: list[int]) -> dict:
    """logits [vocab] (float32) → what the fixture keeps of one position."""
    return {
        "logits": [float(logits[i]) for i in ids],
        "logsumexp": float(torch.logsumexp(logits.double(), 0)),
        "max_abs": float(logits.abs().max()),
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: peft_logits.py DIR   (DIR written by scripts/make-peft-reference.ts)")
    root = Path(sys.argv[1])
    spec = json.loads((root / "prompts.json").read_text())
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = AutoModelForCausalLM.from_pretrained(root / "model", dtype=torch.float32)
        model = PeftModel.from_pretrained(base, root / "adapter")
    model.eval()
    prompts = []
    for prompt in spec["prompts"]:
        ids = prompt["ids"]
        with torch.no_grad():
            adapted = model(torch.tensor([ids])).logits[0]
            with model.disable_adapter():
                plain = model(torch.tensor([ids])).logits[0]
        positions = list(range(len(ids) - spec["positions"], len(ids)))
        rows = []
        for p in positions:
            top = torch.topk(adapted[p], TOP).indices.tolist()
            picked = SPREAD + [i for i in top if i not in SPREAD]
            rows.append({"position": p, "ids": picked, "top": top, "adapter": summary(adapted[p], picked), "base": summary(plain[p], picked)})
        prompts.append({"query": prompt["query"], "ids": ids, "positions": rows})
    fixture = {
        "regenerate": COMMAND,
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "files": {
            "model.safetensors": sha256(root / "model" / "model.safetensors"),
            "adapter_model.safetensors": sha256(root / "adapter" / "adapter_model.safetensors"),
        },
        "prompts": prompts,
    }
    json.dump(fixture, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
