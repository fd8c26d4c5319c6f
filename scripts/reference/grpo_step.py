"""Prints one GRPO step's loss, advantages, per-sequence KL, tokens and LoRA grad norm as TRL's GRPOTrainer computes them.

The inputs come from scripts/make-grpo-reference.ts: a seeded tiny Qwen3, an SFT adapter that is merged into it
(merge_and_unload: the reference policy), the policy adapter being trained (TRL makes a fresh one from its config,
dropout 0, and the policy's values are loaded into it), a batch of prompts x G completions with fixed rewards, and their token ids as our tokenizer makes them.
Regenerate the fixture src/engine/grpo-trl.fixture.json with:

    /tmp/h4-venv/bin/python -m pip install --index-url file:///opt/pypi/simple --no-deps --target /tmp/h11-pylib peft
    npx tsx scripts/make-grpo-reference.ts /tmp/grpo-reference
    PYTHONPATH=/tmp/h11-pylib /tmp/h4-venv/bin/python scripts/reference/grpo_step.py /tmp/grpo-reference > src/engine/grpo-trl.fixture.json

(any venv with torch, transformers, peft and trl works: pip install torch transformers peft trl.)

How TRL is driven, without sampling: GRPOTrainer is built with a `rollout_func` (TRL's hook for custom generation)
that returns the fixed token ids, and a reward function that returns the fixed rewards. Then, as one optimizer step
does, `_generate_and_score_completions` computes the advantages, the reference log-probabilities (adapter disabled)
and num_items_in_batch; the batch is split in order (TRL would shuffle first; the order only matters for bnpo) into
micro-batches of per_device_train_batch_size, each through `compute_loss` and backward, with
current_gradient_accumulation_steps set to their count as the training loop sets it. The loss is the sum of the
micro-batch losses (what the accumulated gradient is the gradient of); the grad norm is the L2 norm of the LoRA
parameters' .grad before clipping; the per-sequence KL is the mean over each completion's tokens of TRL's per-token
KL, from TRL's own `_get_per_token_logps_and_entropies`.
"""

import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import peft
import torch
import transformers
import trl
from datasets import Dataset
from peft import LoraConfig, PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import split_tensor_dict

COMMAND = "PYTHONPATH=/tmp/h11-pylib /tmp/h4-venv/bin/python scripts/reference/grpo_step.py /tmp/grpo-reference > src/engine/grpo-trl.fixture.json"


def run_case(root: Path, spec: dict, case: dict, tokenizer) -> dict:
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(root / "model", dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, root / "sft").merge_and_unload()
    policy = json.loads((root / "policy" / "adapter_config.json").read_text())
    lora = LoraConfig(r=policy["r"], lora_alpha=policy["lora_alpha"], target_modules=policy["target_modules"], lora_dropout=0.0, task_type="CAUSAL_LM")

    grpo = spec["grpo"]
    G = grpo["num_generations"]
    L = grpo["max_completion_length"]
    ids = spec["ids"]
    rewards = [r for group in spec["batch"]["rewards"] for r in group]
    steps = len(ids) // spec["microBatch"]
    prompt_texts = [f"prompt {i // G}" for i in range(len(ids))]

    def rollout(prompts, trainer):
        assert prompts == prompt_texts, prompts
        # Cut at max_completion_length as generation would.
        return {"prompt_ids": [x["prompt"] for x in ids], "completion_ids": [x["completion"][:L] for x in ids], "logprobs": None}

    def reward(prompts, completions, **kwargs):
        assert len(completions) == len(rewards)
        return rewards

    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out,
            per_device_train_batch_size=spec["microBatch"],
            gradient_accumulation_steps=steps,
            num_generations=G,
            max_completion_length=L,
            beta=grpo["beta"],
            temperature=grpo["temperature"],
            loss_type=case["loss_type"],
            use_bias_correction_kl=case["use_bias_correction_kl"],
            scale_rewards=case["scale_rewards"],
            mask_truncated_completions=grpo["mask_truncated_completions"],
            use_cpu=True,
            bf16=False,
            report_to="none",
            logging_steps=1,
        )
        dataset = Dataset.from_dict({"prompt": prompt_texts[::G]})
        # A fresh adapter (peft_config), then set to the policy's values: TRL's reference is then the adapter
        # disabled (the merged SFT model), as for any step of a run that started from a fresh adapter. (Handed a
        # PEFT model with a trained adapter instead, TRL would copy it as a frozen "ref" adapter: KL 0 at step 1.)
        trainer = GRPOTrainer(model=merged, reward_funcs=reward, args=args, train_dataset=dataset, processing_class=tokenizer, rollout_func=rollout, peft_config=lora)
        model = trainer.model
        loaded = set_peft_model_state_dict(model, load_file(root / "policy" / "adapter_model.safetensors"))
        assert not loaded.unexpected_keys, loaded.unexpected_keys
        model.train()
        trainer.current_gradient_accumulation_steps = steps
        batch = trainer._generate_and_score_completions([{"prompt": p} for p in prompt_texts])

        tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == len(ids)}
        shared = {k: v for k, v in batch.items() if k not in tensors}
        loss = 0.0
        for chunk in split_tensor_dict(tensors, steps):
            part = trainer.compute_loss(model, {**chunk, **shared})
            part.backward()
            loss += part.item()
        grads = [p.grad.double() for p in model.parameters() if p.requires_grad and p.grad is not None]
        grad_norm = math.sqrt(sum(float((g * g).sum()) for g in grads))

        with torch.no_grad():
            input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
            attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
            logps, _, _ = trainer._get_per_token_logps_and_entropies(model, input_ids, attention, batch["completion_ids"].size(1))
            ref = batch["ref_per_token_logps"]
            kl = torch.exp(ref - logps) - (ref - logps) - 1
            mask = batch["completion_mask"].double()
            kl_mean = ((kl.double() * mask).sum(1) / mask.sum(1)).tolist()
        tokens = batch["completion_mask"].sum(1).tolist()
        advantages = batch["advantages"].tolist()

    group = lambda xs: [xs[i : i + G] for i in range(0, len(xs), G)]
    return {**case, "loss": loss, "grad_norm": grad_norm, "advantages": group(advantages), "kl": group(kl_mean), "tokens": group(tokens)}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: grpo_step.py DIR   (DIR written by scripts/make-grpo-reference.ts)")
    root = Path(sys.argv[1])
    spec = json.loads((root / "reference.json").read_text())
    torch.use_deterministic_algorithms(True)
    tokenizer = AutoTokenizer.from_pretrained(root / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TRL warns about running on CPU and about the experimental rollout_func
        cases = [run_case(root, spec, case, tokenizer) for case in spec["cases"]]
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__, "trl": trl.__version__}
    print(json.dumps({"command": COMMAND, "versions": versions, "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
