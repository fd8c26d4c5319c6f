# PyTorch side of bench/startup.ts: what `qmd logits --model DIR --prompt hi --top 3` does, with
# transformers — import, tokenizer, the checkpoint loaded as float32 (ours widens bf16 to float32 too),
# one forward of the prompt, the top logits printed as one JSON line {"input_ids", "top", "parts"}
# with the time of each part in ms. Run as a fresh process, so its wall time includes Python's start.
import argparse
import json
import time

started = time.perf_counter()
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--prompt", default="hi")
parser.add_argument("--top", type=int, default=3)
args = parser.parse_args()

parts = {"importMs": (time.perf_counter() - started) * 1000}
mark = time.perf_counter()
tokenizer = AutoTokenizer.from_pretrained(args.model)
parts["tokenizerMs"] = (time.perf_counter() - mark) * 1000
mark = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
model.eval()
parts["loadMs"] = (time.perf_counter() - mark) * 1000
mark = time.perf_counter()
ids = tokenizer(args.prompt, add_special_tokens=False)["input_ids"]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0, -1]
parts["firstForwardMs"] = (time.perf_counter() - mark) * 1000
values, indices = torch.topk(logits, args.top)
top = [[int(i), float(v)] for v, i in zip(values, indices)]
print(json.dumps({"input_ids": ids, "top": top, "parts": parts}))
