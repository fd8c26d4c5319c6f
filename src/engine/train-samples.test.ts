// Samples during a training run (tiny random Qwen3 on onnxruntime-node): each sampled step's
// expansions are what `expand` gives, greedily, for the adapter the trainer held after that step
// (read back from a trainer made from that step's checkpoint), in the run's prompt format; their
// scores are src/scoring's; sampling leaves training itself untouched, and a stop cuts it short.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { LoraAdapter } from '../model/peft.ts';
import { promptFormat } from '../model/prompt.ts';
import { MAX_QUERY_CHARS, scoreBoth } from '../scoring/index.ts';
import type { TrainingCheckpoint } from './checkpoint.ts';
import { expand } from './generate.ts';
import type { StepSamples, TrainProgress, TrainRow } from './protocol.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig } from './train-config.ts';
import { runTrainJob, type TrainHooks, type TrainJob } from './train-job.ts';
import { SAMPLE_SAMPLING, scoreSample, stepSamples } from './train-samples.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';
import { queryRows, TRAIN_QUERIES } from '../testing/train-rows.ts';

const ROWS = queryRows([...TRAIN_QUERIES, 'postgres vacuum']);
// The second validation row carries an intent: the prompt format renders it into the sampled prompt too.
const rows = { train: ROWS.slice(0, 3), validation: [ROWS[3]!, { ...ROWS[4]!, intent: 'clean up disk space' }, ROWS[5]!] };

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
// qmd-1.7b, not the default qmd-v4: a sample rendered in the default format would not match.
const config = {
  ...sft,
  promptFormat: 'qmd-1.7b',
  lora: { ...sft.lora, r: 4, targets: sft.lora.targets.slice(0, 3) },
  training: { ...sft.training, batchSize: 1, gradAccum: 1, maxLength: 48, lossOn: 'completion' as const },
  optimizer: { ...sft.optimizer, warmupRatio: 0, lr: 5e-2, schedule: 'constant' as const },
};

describe('samples during a training run', async () => {
  const model = tinyModelConfig();
  const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 5));
  const tokenizer = await loadBundledTokenizer();
  const trainable = { config: model, tokenizer, session };
  afterAll(() => session.release());
  const run = async (job: Partial<TrainJob>, hooks: TrainHooks = {}) => {
    const checkpoints: TrainingCheckpoint[] = [];
    const outcome = await runTrainJob(nodeRuntime, trainable, { rows, config, maxSteps: 3, ...job }, { ...hooks, onCheckpoint: async (c) => void checkpoints.push(c) });
    return { ...outcome, checkpoints };
  };
  /** The adapter a checkpoint holds, as a trainer made from it downloads it. */
  const adapterOf = async (c: TrainingCheckpoint): Promise<LoraAdapter> => {
    const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model, ...sessionWeights(session), start: { config: c.lora, state: c.state }, optimizer: config.optimizer, dropout: 0, seed: 0 });
    try {
      return await trainer.adapter();
    } finally {
      await trainer.release();
    }
  };
  /** What generate gives for `adapter` on these rows, apart from the run, scored by src/scoring. */
  const expected = async (adapter: LoraAdapter, sampled: readonly TrainRow[]) => {
    await session.setAdapter(adapter);
    const items = [];
    for (const row of sampled) {
      const { text, ids } = await expand(session, tokenizer, row.query, SAMPLE_SAMPLING, promptFormat('qmd-1.7b'), row.intent);
      expect(ids.length).toBeLessThanOrEqual(128);
      const scores = scoreBoth(row.query, text);
      items.push({ query: row.query, expansion: text, reward: scores.reward.reward, eval: scores.eval.percentage });
    }
    await session.setAdapter(null);
    return items;
  };

  it("expands the first K validation queries with the adapter after every M-th step, scored as src/scoring scores them; training is unchanged", async () => {
    const phases: string[] = [];
    const progress: TrainProgress[] = [];
    const sampled = await run({ checkpointEvery: 1, sampleEvery: 2, sampleQueries: 2 }, { onPhase: (p) => phases.push(p), onProgress: (p) => progress.push(p) });
    expect(sampled.steps.map((s) => s.samples !== undefined)).toEqual([false, true, false]);
    expect(phases).toEqual(['compile', 'samples', 'validation', 'export']);
    expect(progress.filter((p) => p.kind === 'sample')).toEqual([{ kind: 'sample', step: 2, index: 1, of: 2 }, { kind: 'sample', step: 2, index: 2, of: 2 }]);

    const samples = sampled.steps[1]!.samples!;
    const want = await expected(await adapterOf(sampled.checkpoints[1]!), rows.validation.slice(0, 2));
    expect(samples.items).toEqual(want);
    expect(samples.reward).toBeCloseTo((want[0]!.reward + want[1]!.reward) / 2, 12);
    expect(samples.eval).toBeCloseTo((want[0]!.eval + want[1]!.eval) / 2, 12);
    // The adapter of step 2, not the base model's or the last step's: those expand otherwise.
    const base = await expected({ config: sampled.adapter.config, layers: sampled.adapter.layers.map(() => ({})) }, rows.validation.slice(0, 2));
    const last = await expected(sampled.adapter, rows.validation.slice(0, 2));
    expect(base.map((s) => s.expansion)).not.toEqual(want.map((s) => s.expansion));
    expect(last.map((s) => s.expansion)).not.toEqual(want.map((s) => s.expansion));

    // Sampling reads the trainer and leaves it be: the same losses and adapter as a run without it.
    const plain = await run({ checkpointEvery: 1 });
    expect(plain.steps.every((s) => s.samples === undefined)).toBe(true);
    expect(sampled.steps.map((s) => s.loss)).toEqual(plain.steps.map((s) => s.loss));
    expect(sampled.adapter).toEqual(plain.adapter);
    expect(sampled.checkpoints.map((c) => c.metrics.at(-1)!.samples !== undefined)).toEqual([false, true, false]);
  }, 120_000);

  it('samples at most the validation rows there are, none without them, and a stop ends the pass with no samples kept', async () => {
    const every = await run({ sampleEvery: 1, sampleQueries: 10, maxSteps: 1 });
    expect(every.steps[0]!.samples!.items.map((s) => s.query)).toEqual(rows.validation.map((r) => r.query));
    const none = await runTrainJob(nodeRuntime, trainable, { rows: { ...rows, validation: [] }, config, maxSteps: 1, sampleEvery: 1 });
    expect(none.steps[0]!.samples).toBeUndefined();

    // A stop asked for during the first query: no decode step runs after it, and the run ends after that step.
    const events: TrainProgress[] = [];
    const stopped = await run({ sampleEvery: 1, sampleQueries: 2 }, { onProgress: (p) => events.push(p), stop: () => events.some((p) => p.kind === 'sample') });
    expect(stopped).toMatchObject({ stopped: true, discarded: null });
    expect(stopped.steps.map((s) => [s.step, s.samples])).toEqual([[1, undefined]]);
    expect(events.filter((p) => p.kind === 'sample')).toEqual([{ kind: 'sample', step: 1, index: 1, of: 2 }]);
    // The session runs the base model afterwards, its sample adapter released.
    expect(session.adapterIds).toEqual([]);
    expect(session.memory().lora).toBe(0);
  }, 120_000);

  it('refuses a cadence or count that is not an integer ≥ 1', async () => {
    await expect(run({ sampleEvery: 0 })).rejects.toThrow('cannot train: sample every must be an integer ≥ 1, got 0');
    await expect(run({ sampleEvery: 1, sampleQueries: 1.5 })).rejects.toThrow('cannot train: sample queries must be an integer ≥ 1, got 1.5');
  });
});

describe('scoreSample and stepSamples', () => {
  it("score with both profiles, keep a pair the scorers refuse with why, and average only what was scored", () => {
    const expansion = 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy\nhyde: Set proxy_pass in a location block to forward requests upstream.';
    const scored = scoreSample('nginx reverse proxy', expansion);
    const both = scoreBoth('nginx reverse proxy', expansion);
    expect(scored).toEqual({ query: 'nginx reverse proxy', expansion, reward: both.reward.reward, eval: both.eval.percentage });
    const failed = scoreSample('nginx reverse proxy', 'I cannot help with that.');
    expect(failed.reward).toBe(0);

    const long = 'q'.repeat(MAX_QUERY_CHARS + 1);
    const refused = scoreSample(long, expansion);
    expect(refused).toMatchObject({ reward: null, eval: null, refused: `query is 2,001 characters; the scorers accept at most 2,000` });

    const mean: StepSamples = stepSamples([scored, refused, failed]);
    expect(mean.reward).toBeCloseTo(both.reward.reward / 2, 12);
    expect(mean.eval).toBeCloseTo((both.eval.percentage + failed.eval!) / 2, 12);
    expect(stepSamples([refused])).toEqual({ reward: null, eval: null, items: [refused] });
  });
});
