// `qmd train --model DIR --data FILE.jsonl --config configs/sft.yaml --out DIR [--max-steps N]`:
// LoRA SFT on onnxruntime-node; one JSON line per optimizer step, then the eval loss; writes a
// PEFT adapter (adapter_config.json + adapter_model.safetensors) to --out.
import { parseArgs } from 'node:util';
import { splitDataset } from '../data/split.ts';
import { readDatasetFile } from './dataset-file.ts';
import { loadCheckpoint, loadModelTokenizer, readSettingsFile, saveAdapter } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { evaluateLoss, runSft, sftExamples, sftTrainer, skippedLines, skippedReason } from '../engine/sft.ts';
import { parseTrainConfig } from '../engine/train-config.ts';
import { Qwen3Session } from '../engine/session.ts';

const USAGE = 'usage: qmd train --model DIR --data FILE.jsonl --config configs/sft.yaml --out DIR [--max-steps N]\n';

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
    },
  });
  const maxSteps = values['max-steps'] ?? values.steps;
  if (!values.model || !values.data || !values.out || (maxSteps !== undefined && !(Number.isInteger(Number(maxSteps)) && Number(maxSteps) >= 1))) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = parseTrainConfig(await readSettingsFile(values.config), values.config);
  // The data before the weights: a bad --data fails in a second, not after the model loaded.
  const rows = await readDatasetFile(values.data, (line) => process.stderr.write(`${line}\n`));
  if (rows.length < 2) throw new Error(`${values.data}: ${rows.length} usable rows; training needs at least 2`);
  const { config: model, weights } = await loadCheckpoint(values.model);
  const tokenizer = await loadModelTokenizer(values.model);
  // The page's split (src/data/split.ts): the same seed holds out the same rows here and in #/train.
  const split = config.eval.split > 0
    ? splitDataset(rows.length, { ratio: config.eval.split, seed: config.eval.seed })
    : { train: rows.map((_, i) => i), validation: [] };
  if (split.train.length === 0) throw new Error(`${values.data}: the ${config.eval.split} eval split leaves no rows to train on`);
  // Rows whose prompt fills max_length are left out of either part and listed, as rejected rows are.
  const { maxLength } = config.training;
  const train = sftExamples(split.train.map((i) => rows[i]!), tokenizer, config);
  const validation = sftExamples(split.validation.map((i) => rows[i]!), tokenizer, config);
  const skipped = [...train.skipped, ...validation.skipped].sort((x, y) => (x.line ?? 0) - (y.line ?? 0));
  for (const row of skipped) process.stderr.write(`${values.data}:${row.line ?? '?'}: ${skippedReason(row, maxLength)}\n`);
  if (skipped.length > 0) process.stderr.write(`${values.data}: ${skipped.length} row${skipped.length === 1 ? '' : 's'} skipped: the prompt fills max_length ${maxLength}\n`);
  if (train.examples.length === 0) {
    throw new Error(`${values.data}: the prompt of every train row fills max_length ${maxLength} (${skippedLines(train.skipped)}): nothing to train on; raise training.max_length in ${values.config}`);
  }

  // The session uploads the base weights once; the trainer reads the same device tensors.
  const session = await Qwen3Session.load(nodeRuntime, model, weights);
  const trainer = await sftTrainer(nodeRuntime, model, session.weights, config);
  const started = Date.now();
  const { halt } = await runSft(
    trainer,
    train.examples,
    config,
    {
      maxSteps: maxSteps === undefined ? undefined : Number(maxSteps),
      onStep: (p) =>
        process.stdout.write(
          JSON.stringify({ step: p.step, of: p.totalSteps, epoch: p.epoch, loss: +p.loss.toFixed(5), lr: p.lr, grad_norm: +p.gradNorm.toFixed(5), tokens: p.tokens, seconds: (Date.now() - started) / 1000 }) + '\n',
        ),
    },
  );
  if (halt) process.stderr.write(`qmd train: ${halt.message}\n`);
  if (validation.examples.length > 0) {
    const evalLoss = await evaluateLoss(trainer, validation.examples, config);
    process.stdout.write(JSON.stringify({ eval_loss: +evalLoss.toFixed(5), eval_rows: validation.examples.length }) + '\n');
  }
  // PEFT records the base it was trained on (base_model_name_or_path): here, the model folder.
  const adapter = await trainer.adapter();
  await saveAdapter(values.out, { ...adapter, config: { ...adapter.config, baseModel: adapter.config.baseModel ?? values.model } }, model);
  await trainer.release();
  await session.release();
  const kept = !halt ? 'PEFT adapter' : halt.step > 1 ? `adapter of step ${halt.step - 1} (the last good step)` : 'adapter as initialised (no step completed)';
  process.stderr.write(`wrote the ${kept} to ${values.out}\n`);
  // A halted run did not train what was asked: its exit status says so, with the adapter kept.
  return halt ? 1 : 0;
}
