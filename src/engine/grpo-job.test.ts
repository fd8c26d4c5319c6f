// The GRPO run (grpo-job.ts) on a tiny random Qwen3 on onnxruntime-node: a toy reward that rises
// as the run learns it, the drift guard's rollback to a checkpoint's exact parameters, a resumed
// run that reaches the uninterrupted one's state bit for bit (through the checkpoint's files), and
// the run's update against the dry step's gradient.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { newAdapter, type LoraAdapter } from '../model/peft.ts';
import { DEFAULT_PROMPT_FORMAT } from '../model/prompt.ts';
import * as names from '../model/qwen3/names.ts';
import { bytesSource } from '../model/byte-source.ts';
import { momentName } from '../model/qwen3/optimizer.ts';
import { loraSites } from '../model/tensors.ts';
import { checkpointFiles } from './checkpoint.ts';
import { readGrpoCheckpoint } from './grpo-checkpoint.ts';
import { readGrpoConfig, type GrpoConfig } from './grpo-config.ts';
import { runGrpoJob, type GrpoHooks, type GrpoJob } from './grpo-job.ts';
import type { GrpoCheckpoint, GrpoGuardSettings } from './grpo-protocol.ts';
import type { GrpoScorer } from './grpo-rollout.ts';
import { grpoStep, grpoTrainBatches, grpoUpdate, policyWeights, scoreGrpoBatch, tokenLogp, type GrpoBatch } from './grpo-step.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { LoraTrainer } from './trainer.ts';

const model = tinyModelConfig({ seed: 3 });
const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 3), { graphs: 'lazy' });
const tokenizer = await loadBundledTokenizer();
afterAll(() => session.release());
const loaded = { config: model, tokenizer, session };
const preset = readGrpoConfig(readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8'), 'configs/grpo.yaml');
const noGuard: GrpoGuardSettings = { maxHardFailRate: 1, windowGroups: 1, maxKl: 1e9 };

interface Shape {
  generations: number;
  batch: number;
  accum: number;
  tokens: number;
  temperature: number;
  lr: number;
  dropout?: number;
  beta?: number;
}

/** configs/grpo.yaml at a tiny run's scale: LoRA r 4 on q, v; a constant rate unless told; gradients clipped to norm 1. */
function settings(s: Shape, schedule: 'constant' | 'linear' = 'constant'): GrpoConfig {
  const { train, grpo } = preset.config;
  return {
    train: {
      ...train,
      lora: { ...train.lora, dropout: s.dropout ?? 0 },
      optimizer: { ...train.optimizer, lr: s.lr, schedule, maxGradNorm: 1 },
      training: { ...train.training, batchSize: s.batch, gradAccum: s.accum, maxLength: 64 },
    },
    grpo: { ...grpo, numGenerations: s.generations, maxCompletionLength: s.tokens, temperature: s.temperature, beta: s.beta ?? 0 },
  };
}

const run = (job: Partial<GrpoJob> & Pick<GrpoJob, 'config'>, hooks: GrpoHooks = {}) =>
  runGrpoJob(nodeRuntime, loaded, { prompts: [{ query: 'auth config' }], guard: noGuard, maxSteps: null, ...job }, hooks);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Every LoRA matrix of an adapter by graph name. */
function matrices(adapter: LoraAdapter): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const { layer, target } of loraSites(model, adapter.config.targets)) {
    const pair = adapter.layers[layer]![target]!;
    out.set(names.loraA(layer, target), pair.a);
    out.set(names.loraB(layer, target), pair.b);
  }
  return out;
}

/** Bitwise equality of two float arrays (NaN-safe, −0 ≠ 0). */
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('runGrpoJob', () => {
  it('learns a toy reward: the completions that start with a token the base model often picks first', async () => {
    // The base model's first-token distribution at T 0.1: the second most likely token (p ≈ 0.2) is the target.
    const logits = await session.forward(tokenizer.promptIds('auth config', DEFAULT_PROMPT_FORMAT));
    await session.reset();
    const ranked = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!);
    const target = ranked[1]!;
    const p = Math.exp(tokenLogp(logits, target, 0.1));
    expect(p > 0.05 && p < 0.5, `p = ${p}`).toBe(true);
    const word = tokenizer.decode([target]).trim();
    const reward: GrpoScorer = (_, text) => ({ rewardScore: text.startsWith(word) ? 1 : 0, evalScore: 0, hardFail: false });
    const config = settings({ generations: 8, batch: 4, accum: 2, tokens: 2, temperature: 0.1, lr: 0.02 });
    const phases: string[] = [];
    const outcome = await run({ config, maxSteps: 4, reward }, { onPhase: (phase) => phases.push(phase) });
    const rewards = outcome.steps.map((s) => s.reward);
    expect(rewards[0]).toBeLessThan(0.5);
    expect(mean(rewards.slice(-2)) - mean(rewards.slice(0, 2)), `rewards ${rewards}`).toBeGreaterThan(0.2);
    expect(rewards.at(-1)).toBeGreaterThanOrEqual(0.75);
    expect(outcome).toMatchObject({ stopped: false, paused: false, halt: null });
    expect(phases).toEqual(['compile', ...Array.from({ length: 4 }, () => ['generation', 'update']).flat(), 'export']);
    const [first] = outcome.steps;
    // One prompt (8 completions / G 8) per step, each completion cut at 2 tokens; the fresh adapter (B = 0) is the reference.
    expect(first!.groups.map((g) => [g.query, g.completions.length])).toEqual([['auth config', 8]]);
    for (const c of first!.groups[0]!.completions) expect(c.tokens <= 2 && c.truncated === (c.tokens === 2)).toBe(true);
    expect(first!.kl).toBeLessThan(1e-6);
    expect(outcome.steps[1]!.kl).toBeGreaterThan(1e-6);
    expect(first!.zeroSpread).toBe(0);
    // Advantages are (r − mean) / (std + 1e-4) within the group.
    expect(Math.abs(mean(first!.groups[0]!.completions.map((c) => c.advantage)))).toBeLessThan(1e-9);
    expect(outcome.steps.map((s) => [s.step, s.of])).toEqual([1, 2, 3, 4].map((n) => [n, 4]));
  }, 120_000);

  describe('with two completions of three tokens a step', () => {
    const config = settings({ generations: 2, batch: 2, accum: 1, tokens: 3, temperature: 0.7, lr: 0.05, dropout: 0.1 });
    // Rewards with a spread, so that each step moves the adapter: the parity of the text's length.
    const parity: GrpoScorer = (_, text) => ({ rewardScore: text.length % 2, evalScore: 0, hardFail: false });

    it('the hard-fail rule rolls back to the checkpoint before the adapter that sampled the failing step, bit for bit', async () => {
      let calls = 0;
      // Every completion hard-fails from step 3 (completions 5 and on) — a constructed collapse.
      const collapse: GrpoScorer = (q, text) => (++calls > 4 ? { rewardScore: 0, evalScore: 0, hardFail: true } : parity(q, text));
      const checkpoints: GrpoCheckpoint[] = [];
      const outcome = await run({ config, guard: { maxHardFailRate: 0.25, windowGroups: 1, maxKl: 1e9 }, maxSteps: 4, reward: collapse }, { onCheckpoint: async (c) => void checkpoints.push(c) });
      expect(outcome.steps.map((s) => s.hardFailRate)).toEqual([0, 0, 1]);
      expect(outcome.halt).toMatchObject({ rule: 'hard-fail-rate', step: 3, rolledBackTo: 1 });
      expect(outcome.halt!.message).toBe("step 3: 100.0 % of the completions of the last 1 groups hard-failed the format, above the drift guard's max_hard_fail_rate 25.0 %");
      expect(outcome.halt!.groups).toEqual(outcome.steps[2]!.groups);
      // Step 3 judged the adapter of step 2 (it sampled step 3): the run goes back to step 1's, which steps 1 and 2 moved away from.
      expect(checkpoints.map((c) => c.state.step)).toEqual([1, 2]);
      const kept = checkpoints[0]!.state.tensors;
      for (const [name, values] of matrices(outcome.adapter)) expect(sameBits(values, kept[name]!), name).toBe(true);
      expect(sameBits(kept[names.loraB(0, 'v_proj')]!, checkpoints[1]!.state.tensors[names.loraB(0, 'v_proj')]!)).toBe(false);
    }, 60_000);

    it('the KL rule at step 2 rolls back to the fresh adapter', async () => {
      // One of each group's two completions rewarded: step 1 always moves the adapter away from the reference.
      let calls = 0;
      const alternate: GrpoScorer = () => ({ rewardScore: calls++ % 2, evalScore: 0, hardFail: false });
      const outcome = await run({ config, guard: { maxHardFailRate: 1, windowGroups: 1, maxKl: 1e-6 }, maxSteps: 4, reward: alternate });
      expect(outcome.halt).toMatchObject({ rule: 'kl', step: 2, rolledBackTo: 0 });
      expect(outcome.halt!.message).toMatch(/^step 2: the mean KL to the SFT model is [0-9.e-]+, above the drift guard's max_kl 0\.000001$/);
      const { lora } = config.train;
      const fresh = newAdapter(model, { r: lora.r, alpha: lora.alpha, targets: lora.targets, dropout: lora.dropout, seed: config.train.training.seed });
      const start = matrices(fresh);
      for (const [name, values] of matrices(outcome.adapter)) expect(sameBits(values, start.get(name)!), name).toBe(true);
    }, 60_000);

    it('a stop between completions discards the step in flight and keeps the last completed one; in step 1 it fails', async () => {
      let stopping = false;
      const events: string[] = [];
      const checkpoints: GrpoCheckpoint[] = [];
      const outcome = await run({ config, maxSteps: 4, reward: parity }, {
        onProgress: (p) => {
          if (p.kind === 'graph') return;
          events.push(`${p.kind} ${p.step}.${p.index}/${p.of}`);
          stopping ||= p.kind === 'generation' && p.step === 2 && p.index === 2;
        },
        stop: () => stopping,
        onCheckpoint: async (c) => void checkpoints.push(c),
      });
      expect(outcome).toMatchObject({ stopped: true, paused: false, halt: null });
      expect(outcome.steps.map((s) => s.step)).toEqual([1]);
      expect(events).toEqual(['generation 1.1/2', 'generation 1.2/2', 'micro-batch 1.1/1', 'generation 2.1/2', 'generation 2.2/2']);
      for (const [name, values] of matrices(outcome.adapter)) expect(sameBits(values, checkpoints[0]!.state.tensors[name]!), name).toBe(true);
      let started = false;
      await expect(run({ config, maxSteps: 4, reward: parity }, { stop: () => started, onProgress: () => (started = true) })).rejects.toThrow(
        'the GRPO run was cancelled during step 1 of 4: no step completed, so nothing was trained',
      );
    }, 60_000);

    it('resumed from a checkpoint read back from its files, reaches the uninterrupted run bit for bit', async () => {
      const linear = settings({ generations: 2, batch: 2, accum: 1, tokens: 3, temperature: 0.7, lr: 0.05, dropout: 0.1 }, 'linear');
      const prompts = [{ query: 'auth config' }, { query: 'git rebase' }, { query: 'sqlite wal' }];
      const whole: GrpoCheckpoint[] = [];
      const uninterrupted = await run({ config: linear, prompts, maxSteps: 3, reward: parity }, { onCheckpoint: async (c) => void whole.push(c) });
      let done = 0;
      const first: GrpoCheckpoint[] = [];
      const paused = await run({ config: linear, prompts, maxSteps: 3, reward: parity, checkpointEvery: 5 }, { onStep: () => done++, pause: () => done === 1, onCheckpoint: async (c) => void first.push(c) });
      expect(paused).toMatchObject({ stopped: true, paused: true });
      expect(first.map((c) => c.state.step)).toEqual([1]);
      const files = checkpointFiles(first[0]!);
      const resume = await readGrpoCheckpoint(files.json, await SafetensorsFile.open(bytesSource(files.tensors, 'checkpoint.safetensors')));
      const rest: GrpoCheckpoint[] = [];
      const resumed = await run({ config: linear, prompts, maxSteps: 3, reward: parity, resume }, { onCheckpoint: async (c) => void rest.push(c) });
      const final = whole.at(-1)!.state;
      expect(rest.at(-1)!.state.step).toBe(3);
      for (const [name, values] of Object.entries(final.tensors)) expect(sameBits(rest.at(-1)!.state.tensors[name]!, values), name).toBe(true);
      for (const [name, values] of matrices(uninterrupted.adapter)) expect(sameBits(matrices(resumed.adapter).get(name)!, values), name).toBe(true);
      const record = (s: (typeof resumed.steps)[number]) => ({ ...s, seconds: 0, generationSeconds: 0, updateSeconds: 0 });
      expect(resumed.steps.map(record)).toEqual(uninterrupted.steps.map(record));
      // Another prompt list or SFT adapter is refused before anything runs.
      await expect(run({ config: linear, prompts: prompts.slice(1), maxSteps: 3, resume })).rejects.toThrow(/^cannot resume: the training rows differ from the checkpoint's: it trained on 3 examples/);
      await expect(run({ config: linear, prompts, maxSteps: 3, resume, sft: { name: 'sft', fingerprint: '0123456789abcdef' } })).rejects.toThrow("cannot resume: the checkpoint's run was trained on top of the SFT adapter none, this one on sft (fingerprint 0123456789abcdef)");
    }, 120_000);
  });

  it('refuses a window that num_generations does not divide, naming the keys', async () => {
    const config = settings({ generations: 3, batch: 2, accum: 2, tokens: 3, temperature: 0.7, lr: 0.01 });
    await expect(run({ config })).rejects.toThrow('cannot run GRPO: a step samples training.batch_size × training.grad_accum = 2 × 2 = 4 completions, which grpo.num_generations 3 does not divide');
  });
});

describe('the run\'s update', () => {
  it('steps along the dry step\'s gradient: AdamW\'s first moment is (1 − β1)·g, micro-batches summed', async () => {
    const config = settings({ generations: 2, batch: 2, accum: 2, tokens: 8, temperature: 0.7, lr: 1e-3, beta: 0.3 });
    const { train, grpo } = config;
    // B ≠ 0: the policy differs from the reference, so the KL term's gradient is in it too.
    const policy = newAdapter(model, { r: train.lora.r, alpha: train.lora.alpha, targets: train.lora.targets, seed: 3, bStd: 0.05 });
    const batch: GrpoBatch = { prompts: ['auth config', 'git rebase'], completions: [['lex: auth config', 'hello there'], ['vec: how to rebase', 'lex: rebase onto main\nlex: git']], rewards: [[1, 0], [0.25, 0.75]] };
    const options = { runtime: nodeRuntime, session, tokenizer, format: DEFAULT_PROMPT_FORMAT, policy, grpo, microBatch: train.training.batchSize };
    const dry = await grpoStep(batch, options);
    const scored = await scoreGrpoBatch(batch, options);
    const weights = await policyWeights(nodeRuntime, session, grpo.temperature);
    const firstMoments = async (gradWeights?: 'default') => {
      const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model, weights: weights.weights, layout: session.layout, transposed: true, start: { adapter: policy }, optimizer: { ...train.optimizer, maxGradNorm: 0 }, dropout: 0, seed: 1 });
      if (gradWeights) await trainer.step(grpoTrainBatches(scored.rows, scored.terms.weights, 2, 64), 1e-3);
      else await grpoUpdate(trainer, scored, train.training, 1e-3);
      const state = await trainer.exportState();
      await trainer.release();
      return state;
    };
    const run1 = await firstMoments();
    const tokenWeighted = await firstMoments('default');
    weights.release();
    const [b1] = train.optimizer.betas;
    let worst = 0;
    let offByTokens = 0;
    for (const [name, g] of dry.gradients) {
      const m = run1.tensors[momentName(name)]!;
      const scale = Math.max(...g.map(Math.abs));
      g.forEach((v, i) => (worst = Math.max(worst, Math.abs(m[i]! / (1 - b1) - v) / scale)));
      const other = tokenWeighted.tensors[momentName(name)]!;
      g.forEach((v, i) => (offByTokens = Math.max(offByTokens, Math.abs(other[i]! / (1 - b1) - v) / scale)));
    }
    // Two micro-batches of two rows against one batch of four: float32 sums in another order.
    expect(worst).toBeLessThan(1e-4);
    // The trainer's default (micro-batches weighted by their tokens) would halve GRPO's gradient and more.
    expect(offByTokens).toBeGreaterThan(0.1);
    expect(dry.gradNorm).toBeGreaterThan(0);
  }, 60_000);
});
