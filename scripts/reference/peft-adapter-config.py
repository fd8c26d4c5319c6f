"""Prints adapter_config.json as PEFT's save_pretrained writes it for a LoRA like the page trains.

The adapter is the reference SFT run's (r 16, alpha 32, dropout 0 on q,k,v,o,gate,up,down of a
causal LM) on a tiny random Qwen3 whose name_or_path is set to Qwen/Qwen3-0.6B, so PeftModel fills
base_model_name_or_path as it does for a hub model. The output is the fixture that
src/model/peft-adapter-config.test.ts compares our writer (src/model/peft.ts adapterConfigJson) against:

    pip install peft   # torch, transformers come with it
    python scripts/reference/peft-adapter-config.py > src/model/peft-adapter-config.fixture.json

With `--check DIR` it instead loads DIR/adapter_config.json (one the page or CLI wrote) with
PEFT, warnings as errors, and prints every field whose value differs from PEFT's own.
"""

import json
import sys
import tempfile
import warnings
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import Qwen3Config, Qwen3ForCausalLM

BASE = "Qwen/Qwen3-0.6B"
COMMAND = "python scripts/reference/peft-adapter-config.py > src/model/peft-adapter-config.fixture.json"


def reference_config() -> dict:
    torch.manual_seed(42)
    tiny = Qwen3Config(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=512,
        tie_word_embeddings=True,
    )
    model = Qwen3ForCausalLM(tiny)
    model.name_or_path = BASE
    lora = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        bias="none",
        task_type="CAUSAL_LM",
    )
    with tempfile.TemporaryDirectory() as out:
        # save_embedding_layers=False: "auto" would look the base up on the hub.
        get_peft_model(model, lora).save_pretrained(out, save_embedding_layers=False)
        written = json.loads((Path(out) / "adapter_config.json").read_text())
    # PEFT serialises target_modules from a set: sort it so the fixture is stable.
    written["target_modules"] = sorted(written["target_modules"])
    return written


def check(folder: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = LoraConfig.from_pretrained(folder).to_dict()
    ours = json.loads((Path(folder) / "adapter_config.json").read_text())
    reference = reference_config()
    for key in sorted(set(reference) | set(ours)):
        if key not in ours:
            print(f"{key}: missing (PEFT writes {reference[key]!r})")
        elif key not in reference:
            print(f"{key}: not a field PEFT writes")
    for key, value in sorted(loaded.items()):
        want = reference.get(key)
        if key == "target_modules":
            value, want = sorted(value), sorted(want)
        if value != want:
            print(f"{key}: loads as {value!r}, PEFT's reference has {want!r}")
    print(f"loaded {folder}/adapter_config.json with peft {peft.__version__}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    written = reference_config()
    fixture = {
        "regenerate": COMMAND,
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "adapter_config": written,
    }
    json.dump(fixture, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
