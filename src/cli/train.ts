// `qmd train --model DIR --data FILE.jsonl --config configs/sft.yaml --out DIR [--max-steps N]`:
// LoRA SFT on onnxruntime-node; one JSON line per optimizer step, then the eval loss; writes a
// PEFT adapter (adapter_config.json + adapter_model.safetensors) to --out.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { QMD_1_7B_PROMPT, QMD_V4_PROMPT } from '../data/prompt.ts';
import { parseRow } from '../data/rows.ts';
import { splitDataset } from '../data/split.ts';
import { loadCheckpoint, loadModelTokenizer, saveAdapter } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { evaluateLoss, runSft, sftTrainer } from '../engine/sft.ts';
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
  if (!values.model || !values.data || !values.out || (maxSteps !== undefined && !(Number(maxSteps) >= 1))) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = parseTrainConfig(await readFile(values.config, 'utf8'), values.config);
  const format = config.promptFormat === QMD_1_7B_PROMPT.id ? QMD_1_7B_PROMPT : QMD_V4_PROMPT;
  const { config: model, weights } = await loadCheckpoint(values.model);
  const tokenizer = await loadModelTokenizer(values.model);

  const lines = (await readFile(values.data, 'utf8')).split('\n');
  const rows: { query: string; completion: string }[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const row = parseRow(line);
    if (row.ok) rows.push(row);
    else process.stderr.write(`${values.data}:${i + 1}: skipped: ${row.field ? `${row.field}: ` : ''}${row.reason}\n`);
  });
  if (rows.length < 2) throw new Error(`${values.data}: ${rows.length} usable rows; training needs at least 2`);
  const examples = rows.map((r) => tokenizer.example(r.query, r.completion, format));
  // The page's split (src/data/split.ts): the same seed holds out the same rows here and in #/train.
  const split = config.eval.split > 0
    ? splitDataset(examples.length, { ratio: config.eval.split, seed: config.eval.seed })
    : { train: examples.map((_, i) => i), validation: [] };
  if (split.train.length === 0) throw new Error(`${values.data}: the ${config.eval.split} eval split leaves no rows to train on`);

  // The session uploads the base weights once; the trainer reads the same device tensors.
  const session = await Qwen3Session.load(nodeRuntime, model, weights);
  const trainer = await sftTrainer(nodeRuntime, model, session.weights, config);
  const started = Date.now();
  await runSft(
    trainer,
    split.train.map((i) => examples[i]!),
    config,
    {
      maxSteps: maxSteps === undefined ? undefined : Number(maxSteps),
      onStep: (p) =>
        process.stdout.write(
          JSON.stringify({ step: p.step, of: p.totalSteps, epoch: p.epoch, loss: +p.loss.toFixed(5), lr: p.lr, grad_norm: +p.gradNorm.toFixed(5), tokens: p.tokens, seconds: (Date.now() - started) / 1000 }) + '\n',
        ),
    },
  );
  if (split.validation.length > 0) {
    const evalLoss = await evaluateLoss(trainer, split.validation.map((i) => examples[i]!), config);
    process.stdout.write(JSON.stringify({ eval_loss: +evalLoss.toFixed(5), eval_rows: split.validation.length }) + '\n');
  }
  await saveAdapter(values.out, await trainer.adapter(), model);
  await trainer.release();
  await session.release();
  process.stderr.write(`wrote PEFT adapter to ${values.out}\n`);
  return 0;
}
