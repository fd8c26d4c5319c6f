// `qmd grpo --model DIR [--sft-adapter DIR] --data FILE --config configs/grpo.yaml --out DIR [--max-steps N]
//  [--checkpoint-every N] [--resume DIR]`: a GRPO run (grpo-run.ts); and
// `qmd grpo --dry-step BATCH.json --model DIR [--sft-adapter DIR] [--adapter DIR] [--config configs/grpo.yaml]`:
// one GRPO step's loss and LoRA gradient for given prompts, completions and rewards (no sampling, no
// update), printed as one JSON line {"loss", "advantages", "kl", "tokens", "grad_norm"}. The reference
// policy is the base with the SFT adapter merged on the device (W + s·B·A, session.mergeAdapter); the dry
// step's policy is that plus --adapter, or a fresh adapter (B = 0) from the config's lora section.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseGrpoConfig } from '../engine/grpo-config.ts';
import { grpoStep, type GrpoBatch } from '../engine/grpo-step.ts';
import { loadAdapter, loadModelTokenizer, readSettingsFile } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { newAdapter } from '../model/peft.ts';
import { promptFormat } from '../model/prompt.ts';
import { quote } from '../model/quote.ts';
import { loadReferenceSession, RUN_USAGE, runGrpo } from './grpo-run.ts';

const USAGE = `${RUN_USAGE}\n   or: qmd grpo --dry-step BATCH.json --model DIR [--sft-adapter DIR] [--adapter DIR] [--config configs/grpo.yaml]\n`;

/** A dry step is a handful of sequences; a bigger file is not one. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const MAX_BATCH_PROMPTS = 256;

/** BATCH.json's {"prompts", "completions", "rewards"}, checked: G completions and G finite rewards per prompt, every text a string. */
export function parseGrpoBatch(json: unknown, source: string, generations: number): GrpoBatch {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(`expected an object {"prompts", "completions", "rewards"}, got ${quote(json)}`);
  const { prompts, completions, rewards, ...rest } = json as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) fail(`unknown field ${quote(extra)} (expected prompts, completions, rewards)`);
  if (!Array.isArray(prompts) || prompts.length === 0 || prompts.length > MAX_BATCH_PROMPTS) fail(`prompts: expected a list of 1 to ${MAX_BATCH_PROMPTS} queries`);
  const list = prompts as unknown[];
  list.forEach((p, i) => typeof p === 'string' && p.length > 0 ? null : fail(`prompts[${i}]: expected a non-empty string, got ${quote(p)}`));
  const perPrompt = (field: string, value: unknown, ok: (v: unknown) => boolean, what: string): unknown[][] => {
    if (!Array.isArray(value) || value.length !== list.length) fail(`${field}: expected ${list.length} lists (one per prompt), got ${quote(value)}`);
    return (value as unknown[]).map((group, p) => {
      if (!Array.isArray(group) || group.length !== generations) fail(`${field}[${p}]: expected ${generations} ${what} (grpo.num_generations), got ${quote(group)}`);
      (group as unknown[]).forEach((v, g) => (ok(v) ? null : fail(`${field}[${p}][${g}]: expected ${what.replace(/s$/, '')}, got ${quote(v)}`)));
      return group as unknown[];
    });
  };
  return {
    prompts: list as string[],
    completions: perPrompt('completions', completions, (v) => typeof v === 'string', 'strings') as string[][],
    rewards: perPrompt('rewards', rewards, (v) => typeof v === 'number' && Number.isFinite(v), 'finite numbers') as number[][],
  };
}

async function readBatchFile(path: string, generations: number): Promise<GrpoBatch> {
  const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read the batch: ${error.message}`);
  });
  if (bytes.length > MAX_BATCH_BYTES) throw new Error(`${path}: ${bytes.length} bytes is over the ${MAX_BATCH_BYTES} a dry-step batch may have`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new Error(`${path}: not UTF-8 JSON: ${(error as Error).message}`);
  }
  return parseGrpoBatch(json, path, generations);
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'dry-step': { type: 'string' },
      model: { type: 'string' },
      'sft-adapter': { type: 'string' },
      adapter: { type: 'string' },
      config: { type: 'string', default: 'configs/grpo.yaml' },
      data: { type: 'string' },
      out: { type: 'string' },
      'max-steps': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'string' },
    },
  });
  if (!values['dry-step']) {
    const { model, data, out } = values;
    if (!model || !data || !out) {
      process.stderr.write(USAGE);
      return 2;
    }
    return runGrpo({ ...values, model, data, out, config: values.config });
  }
  if (!values.model) {
    process.stderr.write(USAGE);
    return 2;
  }
  const { train, grpo } = parseGrpoConfig(await readSettingsFile(values.config), values.config);
  // The batch before the weights: a bad file fails in a second, not after the model loaded.
  const batch = await readBatchFile(values['dry-step'], grpo.numGenerations);
  const { session } = await loadReferenceSession(values.model, values['sft-adapter']);
  const config = session.config;
  try {
    const lora = train.lora;
    const policy = values.adapter
      ? await loadAdapter(values.adapter, config)
      : newAdapter(config, { r: lora.r, alpha: lora.alpha, targets: lora.targets, useRslora: lora.rslora, dropout: lora.dropout, seed: train.training.seed });
    const result = await grpoStep(batch, {
      runtime: nodeRuntime,
      session,
      tokenizer: await loadModelTokenizer(values.model),
      format: promptFormat(train.promptFormat, `${values.config}: prompt_format`),
      policy,
      grpo,
      microBatch: train.training.batchSize,
    });
    process.stdout.write(JSON.stringify({ loss: result.loss, advantages: result.advantages, kl: result.kl, tokens: result.tokens, grad_norm: result.gradNorm }) + '\n');
    return 0;
  } finally {
    await session.release();
  }
}
