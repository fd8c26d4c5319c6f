# PyTorch + PEFT side of bench/train-memory.ts: one measurement per process, one JSON line out
# (the fields of train-memory.ts's Measurement). float32 weights, LoRA r 16 / alpha 32 / dropout 0
# on all seven projections, AdamW (lr 2e-4, betas 0.9/0.999, eps 1e-8, no weight decay), grad
# norm clipped at 1, loss on every token, gradient checkpointing only with --checkpointing (ours:
# --recompute), the synthetic rows of bench/synthetic-rows.ts. Needs torch, transformers and peft.
import argparse
import json
import resource
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def status_bytes(field: str) -> int:
    """A size line of /proc/self/status (VmRSS, VmHWM: the peak since the last reset_peak), bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def rss() -> int:
    return status_bytes("VmRSS")


def high_water() -> int:
    return status_bytes("VmHWM")


def reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--shape", required=True, help="BxT for a train step, or 'generate'")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--generate-ids", default="")
    parser.add_argument("--generate-tokens", type=int, default=32)
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing, as TRL's SFTConfig default")
    args = parser.parse_args()
    torch.manual_seed(0)

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    out = {"loadMs": (time.perf_counter() - start) * 1000, "stepMs": [], "rss": [rss()], "hostCopyBytes": 0}

    load_peak = 0
    if args.shape == "generate":
        model.eval()
        ids = torch.tensor([[int(i) for i in args.generate_ids.split(",")]])
        with torch.no_grad():
            start = time.perf_counter()
            past = model(input_ids=ids, use_cache=True)
            out["prefillMs"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            cache, token = past.past_key_values, past.logits[:, -1].argmax(-1, keepdim=True)
            for _ in range(args.generate_tokens - 1):
                step = model(input_ids=token, past_key_values=cache, use_cache=True)
                cache, token = step.past_key_values, step.logits[:, -1].argmax(-1, keepdim=True)
            out["decodeMsPerToken"] = (time.perf_counter() - start) * 1000 / (args.generate_tokens - 1)
        out["rss"].append(rss())
    else:
        batch, length = (int(n) for n in args.shape.split("x"))
        if args.checkpointing:
            # What TRL's SFTTrainer does for a PEFT model with gradient_checkpointing on (its default).
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM"))
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        ids = torch.tensor([[(b * 7919 + t * 104729) % 151000 for t in range(length)] for b in range(batch)])
        out["stepPeaks"] = []
        load_peak = high_water()  # reset_peak resets ru_maxrss too: the load's peak is read first
        for _ in range(args.steps + 1):
            reset_peak()
            start = time.perf_counter()
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            out["stepMs"].append((time.perf_counter() - start) * 1000)
            out["stepPeaks"].append(high_water())
            out["rss"].append(rss())

    out["peakRss"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, load_peak, *out.get("stepPeaks", []))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
