// Training on hostile rows and weights, the training job the page and the CLI share (train-job.ts):
// a prompt that fills max_length is skipped and listed by line, never fatal; a step whose loss is
// NaN ends the run naming the step, and the adapter handed back is the last good step's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { TrainRow } from './protocol.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { sftExamples, skippedLines } from './sft.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig, type TrainConfig } from './train-config.ts';
import { runTrainJob, type TrainHooks, type TrainableModel } from './train-job.ts';

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
// One row per constant-rate step (no warmup): a run cut short by maxSteps follows the same updates.
const config: TrainConfig = {
  ...sft,
  lora: { ...sft.lora, r: 2, targets: ['q_proj', 'v_proj'] },
  optimizer: { ...sft.optimizer, lr: 1e-2, warmupRatio: 0, schedule: 'constant' },
  // Completion-only: these tests are about prompts that leave no completion token (sft.yaml trains the whole sequence).
  training: { ...sft.training, batchSize: 1, gradAccum: 1, maxLength: 48, epochs: 1, lossOn: 'completion' },
};
const tokenizer = await loadBundledTokenizer();
const row = (query: string, line: number): TrainRow => ({ query, completion: `lex: ${query}\nvec: how to ${query}`, line });
const longQuery = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
const trainOnModel = (model: TrainableModel, rows: { train: readonly TrainRow[]; validation: readonly TrainRow[] }, c: TrainConfig, maxSteps: number | null, hooks: TrainHooks = {}) =>
  runTrainJob(nodeRuntime, model, { rows, config: c, maxSteps }, hooks);

describe('rows whose prompt fills max_length', () => {
  it('are left out and listed with their line and prompt length; the rest are kept in order', () => {
    const rows = [row('vote online', 1), row(longQuery, 2), row('git rebase', 3), row(longQuery, 7)];
    const { examples, skipped } = sftExamples(rows, tokenizer, config);
    expect(examples).toHaveLength(2);
    const promptTokens = tokenizer.promptIds(longQuery).length;
    expect(promptTokens).toBeGreaterThan(48);
    expect(skipped).toEqual([{ line: 2, promptTokens }, { line: 7, promptTokens }]);
    expect(skippedLines(skipped)).toBe('lines 2 and 7');
    expect(skippedLines(Array.from({ length: 25 }, (_, i) => ({ line: i + 1, promptTokens }))))
      .toBe('lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 15 more');
    // Scoring every token ('all') leaves something to learn from even a long prompt.
    expect(sftExamples(rows, tokenizer, { ...config, training: { ...config.training, lossOn: 'all' } }).skipped).toEqual([]);
  });

  it("never fail the page's run: it trains on the others, lists them and hands back an adapter", async () => {
    const model = tinyModelConfig();
    const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 5));
    const train = [row('nginx proxy', 1), row(longQuery, 2), row('sqlite wal', 3)];
    const result = await trainOnModel({ config: model, tokenizer, session }, { train, validation: [row(longQuery, 4)] }, config, null);
    expect(result.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(result.skipped.train.map((s) => s.line)).toEqual([2]);
    expect(result.skipped.validation.map((s) => s.line)).toEqual([4]);
    expect(result.validationLoss).toBeNull();
    expect(result.halt).toBeNull();
    expect(result.adapter.layers).toHaveLength(model.numLayers);
    await expect(trainOnModel({ config: model, tokenizer, session }, { train: [row(longQuery, 9)], validation: [] }, config, null)).rejects.toThrow(
      'cannot train: the prompt of every train row fills max length 48, leaving no completion token (line 9); raise the max length',
    );
    await expect(
      trainOnModel({ config: model, tokenizer, session }, { train, validation: [] }, { ...config, optimizer: { ...config.optimizer, lr: Infinity } }, null),
    ).rejects.toThrow('cannot train: optimizer.lr: expected a number in (0, 1], got Infinity');
    await session.release();
  }, 120_000);
});

describe('a step whose loss is not finite', () => {
  it('stops the run naming the step; the adapter handed back is the last good step’s', async () => {
    // Untied, so that a NaN embedding row reaches only the rows holding its token (a tied LM head
    // would put it in every logit vector).
    const model = tinyModelConfig({ untied: true });
    const rows = [row('nginx proxy', 1), row('sqlite wal', 2), row('zebra crossing', 3), row('git rebase', 4)];
    const ids = rows.map((r) => tokenizer.promptIds(r.query));
    const poison = ids[2]!.find((id) => !ids.some((other, i) => i !== 2 && other.includes(id)))!;
    const weights = tinyModelWeights(model, 6);
    weights.get('model.embed_tokens.weight')!.fill(Number.NaN, poison * model.hiddenSize, (poison + 1) * model.hiddenSize);
    const session = await Qwen3Session.load(nodeRuntime, model, weights);
    // The seeded order puts the poisoned row at step `at`.
    const order: number[] = [];
    const result = await trainOnModel({ config: model, tokenizer, session }, { train: rows, validation: [] }, config, null, {
      onStep: (s) => order.push(s.step),
    });
    const at = order.length + 1;
    expect(at).toBeGreaterThan(1);
    expect(at).toBeLessThanOrEqual(4);
    expect(result.halt).toBe(`step ${at} of 4: the loss is NaN and the gradient norm NaN, so training stopped there; kept the adapter of step ${at - 1}, the last good one`);
    expect(result.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
    // The same run stopped by maxSteps after the last good step writes the same bytes.
    const good = await trainOnModel({ config: model, tokenizer, session }, { train: rows, validation: [] }, config, at - 1);
    expect(good.halt).toBeNull();
    expect(result.adapter).toEqual(good.adapter);
    await session.release();
  }, 120_000);
});
