// QMD's own trainer configs, verbatim, for the tests that import, export and abuse them (one
// home: a test file imported by another would run its tests twice).

/** The v4 run's config, verbatim: tobi/qmd@32706a720fbedff31acb4b2280129e08f328666a finetune/configs/sft_v4.yaml. */
export const QMD_SFT_V4 = `# SFT Training Config for QMD Query Expansion v4
# Uses Qwen3-0.6B with LoRA, trained with key term preservation

model:
  base: "Qwen/Qwen3-0.6B"
  output: "tobil/qmd-query-expansion-0.6B-v4"

dataset:
  name: "tobil/qmd-query-expansion-train-v2"
  text_field: "text"
  split: "train"
  eval_split: 0.1

training:
  epochs: 3
  batch_size: 4
  gradient_accumulation_steps: 4
  learning_rate: 2e-4
  max_length: 512
  warmup_ratio: 0.03
  lr_scheduler: "cosine"

lora:
  rank: 16
  alpha: 32
  dropout: 0.0
  target_modules:
    - "q_proj"
    - "k_proj"
    - "v_proj"
    - "o_proj"
    - "gate_proj"
    - "up_proj"
    - "down_proj"

tracking:
  project: "qmd-query-expansion"
  run_name: "sft-v4-key-term-preservation"
`;

/** QMD's current config, verbatim: tobi/qmd v2.8.3 (facd35e01359e59d938bc9418e93fb9318addee3) finetune/configs/sft.yaml. */
export const QMD_SFT_V2_8_3 = `# SFT Training Config for QMD Query Expansion
# Target: Qwen3-1.7B with LoRA
#
# Usage: uv run train.py sft --config configs/sft.yaml

model:
  base: "Qwen/Qwen3-1.7B"
  output: "outputs/sft"  # Local training output (push to HF manually after eval)

dataset:
  # Local: run \`uv run dataset/prepare_data.py\` first, then use "data/train/"
  # HuggingFace: use "tobil/qmd-query-expansion-train" (already prepared)
  name: "data/train/"
  text_field: "text"
  split: "train"
  eval_split: 0.1

training:
  epochs: 5
  batch_size: 4
  gradient_accumulation_steps: 4
  learning_rate: 2e-4
  max_length: 512
  warmup_ratio: 0.03
  lr_scheduler: "cosine"
  # Save checkpoints every 30 minutes
  save_interval_minutes: 30
  # Fallback time-step save cadence if needed (not used for wall-clock mode)
  save_steps: 200
  save_total_limit: 3

lora:
  rank: 16
  alpha: 32
  dropout: 0.0
  target_modules:
    - "q_proj"
    - "k_proj"
    - "v_proj"
    - "o_proj"
    - "gate_proj"
    - "up_proj"
    - "down_proj"

tracking:
  project: "qmd-query-expansion"
  run_name: "sft-1.7B"
`;
