// `qmd train --model DIR --data FILE.jsonl --config configs/sft.yaml --out DIR [--max-steps N]
//  [--checkpoint-every N] [--resume CHECKPOINT_DIR] [--sample-every N [--sample-queries K] [--samples-out FILE.jsonl]]`
// (--config: qmd-lab's YAML or QMD's trainer config, e.g. tobi/qmd finetune/configs/sft.yaml):
// LoRA SFT on onnxruntime-node (the page's training job, src/engine/train-job.ts); one JSON line
// per optimizer step, then the eval loss; writes a PEFT adapter (adapter_config.json +
// adapter_model.safetensors) to --out, and with --checkpoint-every the run's state to
// --out/checkpoint/ every N steps and at the end, which --resume (with the same --data and
// --config) continues from, bit for bit. With --sample-every N, every N-th step's line also holds
// the mean reward and eval score of the first K validation queries as the adapter so far expands
// them (greedy, as the page's samples), and --samples-out writes each expansion, one JSON line each.
import { appendFileSync } from 'node:fs';
import { readFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { splitRows } from '../data/split.ts';
import { readDatasetFile } from './dataset-file.ts';
import { loadModelTokenizer, loadSession, readSettingsFile, saveAdapter } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { skippedReason } from '../engine/sft.ts';
import { CHECKPOINT_JSON, CHECKPOINT_TENSORS, checkpointFiles, readCheckpoint, type TrainingCheckpoint } from '../engine/checkpoint.ts';
import { runTrainJob } from '../engine/train-job.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { openFileSource } from '../model/file-source.ts';
import { QMD_TRAINER_DIFFERENCES, readTrainConfig } from '../engine/qmd-trainer-config.ts';
import { DEFAULT_SAMPLE_QUERIES, type StepSamples } from '../engine/protocol.ts';

const USAGE =
  'usage: qmd train --model DIR --data FILE.jsonl --config configs/sft.yaml --out DIR [--max-steps N] [--checkpoint-every N] [--resume CHECKPOINT_DIR]\n' +
  `                 [--sample-every N [--sample-queries K (default ${DEFAULT_SAMPLE_QUERIES})] [--samples-out FILE.jsonl]]\n`;

/** Writes the checkpoint's two files into `dir`, each by a rename so a crash leaves whole files (readCheckpoint catches a torn pair). */
async function writeCheckpointDir(dir: string, checkpoint: TrainingCheckpoint): Promise<void> {
  const { json, tensors } = checkpointFiles(checkpoint);
  await mkdir(dir, { recursive: true });
  for (const [file, data] of [[CHECKPOINT_TENSORS, tensors], [CHECKPOINT_JSON, json]] as const) {
    await writeFile(join(dir, `${file}.partial`), data);
    await rename(join(dir, `${file}.partial`), join(dir, file));
  }
}

async function readCheckpointDir(dir: string): Promise<TrainingCheckpoint> {
  const files = { json: join(dir, CHECKPOINT_JSON), tensors: join(dir, CHECKPOINT_TENSORS) };
  const json = await readFile(files.json, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error(`${dir}: no ${CHECKPOINT_JSON}: expected a folder that qmd train --checkpoint-every wrote (OUT/checkpoint)`) : error;
  });
  const source = await openFileSource(files.tensors);
  try {
    return await readCheckpoint(json, await SafetensorsFile.open(source), files);
  } finally {
    await source.close();
  }
}

const positiveInteger = (v: string | undefined) => v === undefined || (Number.isInteger(Number(v)) && Number(v) >= 1);
const rounded = (v: number | null) => (v === null ? null : +v.toFixed(5));

/** A step's samples in its JSON line: the mean scores (null when the scorers refused every pair), the queries expanded and how many of them were refused. */
const samplesLine = (s: StepSamples) => ({ reward: rounded(s.reward), eval: rounded(s.eval), queries: s.items.length, refused: s.items.filter((i) => i.refused !== undefined).length });

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string', default: 'configs/sft.yaml' },
      out: { type: 'string' },
      'max-steps': { type: 'string' },
      steps: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'string' },
      'sample-every': { type: 'string' },
      'sample-queries': { type: 'string' },
      'samples-out': { type: 'string' },
    },
  });
  const maxSteps = values['max-steps'] ?? values.steps;
  const every = values['checkpoint-every'];
  const sampleEvery = values['sample-every'];
  const sampleQueries = values['sample-queries'];
  const samplesOut = values['samples-out'];
  // Queries and a file of samples mean nothing without a cadence to take them at.
  const sampling = sampleEvery !== undefined || (sampleQueries === undefined && samplesOut === undefined);
  if (!values.model || !values.data || !values.out || !positiveInteger(maxSteps) || !positiveInteger(every) || !positiveInteger(sampleEvery) || !positiveInteger(sampleQueries) || !sampling) {
    process.stderr.write(USAGE);
    return 2;
  }
  // Either kind of file: qmd-lab's configs/*.yaml or QMD's own trainer config (told apart by its sections).
  const read = readTrainConfig(await readSettingsFile(values.config), values.config);
  for (const line of [...read.warnings, ...(read.kind === 'qmd-trainer' ? QMD_TRAINER_DIFFERENCES : [])]) process.stderr.write(`${line}\n`);
  const { config } = read;
  const resume = values.resume === undefined ? undefined : await readCheckpointDir(values.resume);
  // The data before the weights: a bad --data fails in a second, not after the model loaded.
  const rows = await readDatasetFile(values.data, (line) => process.stderr.write(`${line}\n`));
  if (rows.length < 2) throw new Error(`${values.data}: ${rows.length} usable rows; training needs at least 2`);
  // The page's split (src/data/split.ts): the same seed holds out the same rows here and in #/train;
  // with QMD's own config, the rows its train.py holds out (so eval losses compare row for row).
  const split = splitRows(rows.length, { ratio: config.eval.split, seed: config.eval.seed, rule: read.kind === 'qmd-trainer' ? 'qmd-trainer' : 'qmd-lab' });
  if (split.train.length === 0) throw new Error(`${values.data}: the ${config.eval.split} eval split leaves no rows to train on`);
  if (sampleEvery !== undefined && split.validation.length === 0) {
    throw new Error(`${values.config}: --sample-every expands validation queries, and eval.split ${config.eval.split} holds out none of ${values.data}'s ${rows.length} rows: set eval.split above 0`);
  }
  if (samplesOut !== undefined) await writeFile(samplesOut, '');
  // Streamed (no host copy of the weights beside the session's), no decoder graph built until samples need one: the trainer reads session.weights.
  const session = await loadSession(values.model, nodeRuntime, { graphs: 'lazy' });
  const model = session.config;
  const tokenizer = await loadModelTokenizer(values.model);
  // A resumed run keeps its schedule unless --max-steps says otherwise.
  const limit = maxSteps === undefined ? (resume?.maxSteps ?? null) : Number(maxSteps);
  if (resume && limit !== resume.maxSteps) process.stderr.write(`qmd train: the checkpoint's run stopped at ${resume.maxSteps ?? 'the end of its schedule'}; this one at ${limit ?? 'the end of its schedule'}: the learning-rate schedule is recomputed for it\n`);
  const { maxLength } = config.training;
  const started = Date.now();
  const outcome = await runTrainJob(
    nodeRuntime,
    { config: model, tokenizer, session },
    {
      rows: { train: split.train.map((i) => rows[i]!), validation: split.validation.map((i) => rows[i]!) },
      config,
      maxSteps: limit,
      resume,
      checkpointEvery: every === undefined ? undefined : Number(every),
      sampleEvery: sampleEvery === undefined ? undefined : Number(sampleEvery),
      sampleQueries: sampleQueries === undefined ? undefined : Number(sampleQueries),
    },
    {
      // Rows whose prompt fills max_length are left out of either part and listed, as rejected rows are.
      onSkipped: (parts) => {
        const skipped = [...parts.train, ...parts.validation].sort((x, y) => (x.line ?? 0) - (y.line ?? 0));
        for (const row of skipped) process.stderr.write(`${values.data}:${row.line ?? '?'}: ${skippedReason(row, maxLength)}\n`);
        if (skipped.length > 0) process.stderr.write(`${values.data}: ${skipped.length} row${skipped.length === 1 ? '' : 's'} skipped: the prompt fills max_length ${maxLength}\n`);
      },
      onStep: (p) => {
        const line = { step: p.step, of: p.of, epoch: p.epoch, loss: +p.loss.toFixed(5), lr: p.lr, grad_norm: +p.gradNorm.toFixed(5), tokens: p.tokens, seconds: (Date.now() - started) / 1000 };
        process.stdout.write(JSON.stringify(p.samples ? { ...line, samples: samplesLine(p.samples) } : line) + '\n');
        // Appended as each step's samples come (a few lines), so a long run's file fills as it goes.
        if (samplesOut !== undefined && p.samples) appendFileSync(samplesOut, p.samples.items.map((item) => JSON.stringify({ step: p.step, ...item }) + '\n').join(''));
      },
      onCheckpoint: (checkpoint) => writeCheckpointDir(join(values.out!, 'checkpoint'), checkpoint),
    },
  ).catch(async (error: unknown) => {
    await session.release();
    throw error instanceof Error && error.message.startsWith('cannot ') ? new Error(`${values.data}: ${error.message}`) : error;
  });
  const { halt } = outcome;
  if (halt) process.stderr.write(`qmd train: ${halt}\n`);
  if (outcome.validationLoss !== null) process.stdout.write(JSON.stringify({ eval_loss: +outcome.validationLoss.toFixed(5), eval_rows: outcome.validationRows }) + '\n');
  // PEFT records the base it was trained on (base_model_name_or_path): here, the model folder.
  const { adapter } = outcome;
  await saveAdapter(values.out, { ...adapter, config: { ...adapter.config, baseModel: adapter.config.baseModel ?? values.model } }, model);
  await session.release();
  const good = outcome.steps.at(-1)?.step ?? 0;
  const kept = !halt ? 'PEFT adapter' : good > 0 ? `adapter of step ${good} (the last good step)` : 'adapter as initialised (no step completed)';
  process.stderr.write(`wrote the ${kept} to ${values.out}\n`);
  // A halted run did not train what was asked: its exit status says so, with the adapter kept.
  return halt ? 1 : 0;
}
