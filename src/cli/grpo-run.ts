// `qmd grpo --model DIR [--sft-adapter DIR] --data FILE --config configs/grpo.yaml --out DIR [--max-steps N]
//  [--checkpoint-every N] [--resume DIR]`: a GRPO run on onnxruntime-node (the page's job,
// src/engine/grpo-job.ts). --data is a dataset file (JSONL in any format the importer takes: its
// rows' queries and intents are the prompts) or a query set (.txt, one query per line). Prints one
// JSON line per step (its metrics, not its samples), writes the PEFT adapter to --out and the run's
// checkpoint to --out/checkpoint (every --checkpoint-every steps, default 1, and at the end), which
// --resume continues bit for bit. When the drift guard fires, the adapter written is the one it
// rolled back to, the rule is told on stderr, and the exit status is 1.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseQueryText } from '../data/querySets.ts';
import { adapterFingerprint, readGrpoCheckpoint } from '../engine/grpo-checkpoint.ts';
import { readGrpoConfig } from '../engine/grpo-config.ts';
import { runGrpoJob } from '../engine/grpo-job.ts';
import type { GrpoStep } from '../engine/grpo-protocol.ts';
import type { GrpoPrompt } from '../engine/grpo-rollout.ts';
import { loadAdapter, loadModelTokenizer, openModel, readSettingsFile, saveAdapter } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { Qwen3Session } from '../engine/session.ts';
import type { LoraAdapter } from '../model/peft.ts';
import { readCheckpointDir, writeCheckpointDir } from './checkpoint-dir.ts';
import { readDatasetFile } from './dataset-file.ts';

export const RUN_USAGE = 'usage: qmd grpo --model DIR [--sft-adapter DIR] --data FILE --config configs/grpo.yaml --out DIR [--max-steps N] [--checkpoint-every N] [--resume CHECKPOINT_DIR]';

/** A query set is a few thousand lines; a bigger .txt file is not one. */
export const MAX_QUERY_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The reference policy's session: the model folder's weights streamed in, then the SFT adapter in
 * `sftDir` merged into them on the device as the page merges it (session.mergeAdapter; absent: the
 * base alone), no decoder graph built until first run.
 */
export async function loadReferenceSession(modelDir: string, sftDir: string | undefined): Promise<{ session: Qwen3Session; sft: LoraAdapter | null }> {
  const opened = await openModel(modelDir);
  try {
    const sft = sftDir ? await loadAdapter(sftDir, opened.config) : null;
    const session = await Qwen3Session.load(nodeRuntime, opened.config, { read: (name) => opened.read(name) }, { graphs: 'lazy' });
    if (sft) {
      try {
        await session.mergeAdapter(sft);
      } catch (error) {
        await session.release();
        throw error;
      }
    }
    return { session, sft };
  } finally {
    await opened.close();
  }
}

/** --data's prompts: a query set's lines (.txt), else a dataset file's rows (rejected lines told on stderr by file and line). */
export async function readPrompts(path: string): Promise<GrpoPrompt[]> {
  if (/\.txt$/i.test(path)) {
    const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`${path}: cannot read the query set: ${error.message}`);
    });
    if (bytes.length > MAX_QUERY_FILE_BYTES) throw new Error(`${path}: ${bytes.length} bytes is over the ${MAX_QUERY_FILE_BYTES} a query set may have`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new Error(`${path}: not UTF-8 text (a query set is one query per line)`);
    }
    const { queries } = parseQueryText(text, path);
    return queries.map((query, i) => ({ query, line: i + 1 }));
  }
  const rows = await readDatasetFile(path, (line) => process.stderr.write(`${line}\n`));
  if (rows.length === 0) throw new Error(`${path}: no usable rows (see the lines above); GRPO needs at least one query`);
  return rows.map((r) => ({ query: r.query, ...(r.intent === undefined ? {} : { intent: r.intent }), ...(r.line === undefined ? {} : { line: r.line }) }));
}

const positiveInteger = (v: string | undefined) => v === undefined || (Number.isInteger(Number(v)) && Number(v) >= 1);

/** A step as one JSON line: its metrics, not its groups (the samples stay in the checkpoint). */
const stepLine = (s: GrpoStep) =>
  JSON.stringify({
    step: s.step,
    of: s.of,
    loss: s.loss,
    lr: s.lr,
    grad_norm: s.gradNorm,
    reward: s.reward,
    reward_score: s.rewardScore,
    eval_score: s.evalScore,
    hard_fail_rate: s.hardFailRate,
    kl: s.kl,
    completion_tokens: s.completionTokens,
    zero_spread: s.zeroSpread,
    generation_seconds: +s.generationSeconds.toFixed(3),
    update_seconds: +s.updateSeconds.toFixed(3),
    seconds: +s.seconds.toFixed(3),
  });

export async function runGrpo(values: { model: string; data: string; out: string; config: string; 'sft-adapter'?: string; 'max-steps'?: string; 'checkpoint-every'?: string; resume?: string }): Promise<number> {
  const maxSteps = values['max-steps'];
  const every = values['checkpoint-every'];
  if (!positiveInteger(maxSteps) || !positiveInteger(every)) {
    process.stderr.write(`${RUN_USAGE}\n--max-steps and --checkpoint-every take an integer ≥ 1\n`);
    return 2;
  }
  const { config, guard } = readGrpoConfig(await readSettingsFile(values.config), values.config);
  const resume = values.resume === undefined ? undefined : await readCheckpointDir(values.resume, readGrpoCheckpoint, 'qmd grpo');
  // The data before the weights: a bad --data fails in a second, not after the model loaded.
  const prompts = await readPrompts(values.data);
  const { session, sft } = await loadReferenceSession(values.model, values['sft-adapter']);
  const model = session.config;
  const limit = maxSteps === undefined ? (resume?.maxSteps ?? null) : Number(maxSteps);
  if (resume && limit !== resume.maxSteps) process.stderr.write(`qmd grpo: the checkpoint's run stopped at ${resume.maxSteps ?? 'grpo.max_steps'}; this one at ${limit ?? 'grpo.max_steps'}: the learning-rate schedule is recomputed for it\n`);
  const { maxLength } = config.train.training;
  try {
    const outcome = await runGrpoJob(
      nodeRuntime,
      { config: model, tokenizer: await loadModelTokenizer(values.model), session },
      { prompts, config, guard, maxSteps: limit, resume, checkpointEvery: every === undefined ? undefined : Number(every), sft: sft && { name: values['sft-adapter']!, fingerprint: adapterFingerprint(sft) } },
      {
        onSkipped: (skipped) => {
          for (const row of skipped) process.stderr.write(`${values.data}:${row.line ?? '?'}: skipped: the prompt is ${row.promptTokens} tokens, so with grpo.max_completion_length ${config.grpo.maxCompletionLength} it is over max_length ${maxLength}\n`);
        },
        onStep: (s) => process.stdout.write(stepLine(s) + '\n'),
        onCheckpoint: (checkpoint) => writeCheckpointDir(join(values.out, 'checkpoint'), checkpoint),
      },
    ).catch((error: unknown) => {
      throw error instanceof Error && error.message.startsWith('cannot ') ? new Error(`${values.data}: ${error.message}`) : error;
    });
    // PEFT records the base it was trained on (base_model_name_or_path): here, the model folder.
    const { adapter, halt } = outcome;
    await saveAdapter(values.out, { ...adapter, config: { ...adapter.config, baseModel: adapter.config.baseModel ?? values.model } }, model);
    if (halt) {
      const kept = halt.rolledBackTo === 0 ? 'the adapter as initialised' : `the adapter of step ${halt.rolledBackTo}`;
      process.stderr.write(`qmd grpo: the drift guard stopped the run: ${halt.message}; rolled back to ${kept}\n`);
      process.stderr.write(`wrote ${kept} to ${values.out}\n`);
      return 1;
    }
    process.stderr.write(`wrote the PEFT adapter of step ${outcome.steps.at(-1)?.step ?? 0} to ${values.out}\n`);
    return 0;
  } finally {
    await session.release();
  }
}
