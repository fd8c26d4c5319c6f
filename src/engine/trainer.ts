// LoRA training on the engine's runtime: micro-batches through the train-step graph (one
// session per shape bucket), gradients accumulated weighted by scored tokens, then one AdamW
// step. Parameters and optimizer state stay device tensors between steps. Graphs are built when
// first needed (step 1 builds most of them, a new shape bucket later builds its own) and each
// build is reported, since at real size they take minutes.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import * as names from '../model/qwen3/names.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import * as opt from '../model/qwen3/optimizer.ts';
import { buildTrainStep } from '../model/qwen3/train-step.ts';
import { projectionPath, projectionShape } from '../model/tensors.ts';
import type { TrainBatch } from './batches.ts';
import type { GraphProgress } from './protocol.ts';
import { f32, floats, i64, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';
import { mulberry32 } from '../random.ts';
import type { OptimizerSettings } from './train-config.ts';

export interface StepResult {
  /** Mean cross-entropy over all scored tokens of the step's micro-batches. */
  loss: number;
  tokens: number;
  /** Global L2 norm of the accumulated gradient, before clipping. */
  gradNorm: number;
}

/**
 * A step whose loss or gradient norm came out NaN or infinite (a weight or an input that
 * overflows): the trainer refused its update, so its parameters are still those of the step before.
 */
export class NonFiniteStep extends Error {
  constructor(readonly loss: number, readonly gradNorm: number) {
    super(`the loss is ${loss} and the gradient norm ${gradNorm}`);
    this.name = 'NonFiniteStep';
  }
}

/**
 * A step that `stop` ended before its update, between graph builds or micro-batches: the partial
 * gradient was discarded, so the parameters are still those of the step before.
 */
export class StepCancelled extends Error {
  constructor(readonly microBatches: number, readonly of: number) {
    super(`the step was cancelled after ${microBatches} of ${of} micro-batch${of === 1 ? '' : 'es'}; its partial gradient was discarded`);
    this.name = 'StepCancelled';
  }
}

export interface TrainerSettings {
  optimizer: OptimizerSettings;
  dropout: number;
  seed: number;
  session?: SessionOptions;
  /** Told as each graph is built and its session created (for the page's sub-progress). */
  onGraph?: (progress: GraphProgress) => void;
}

export interface StepOptions {
  /** Asked before each graph build and micro-batch: true ends the step there (StepCancelled). */
  stop?: () => boolean;
  /** Told as each micro-batch (1-based) of the step starts. */
  onMicroBatch?: (index: number, of: number) => void;
}

/** A graph the trainer still has to build, and where its session goes. */
interface PendingGraph {
  graph: string;
  build: () => Uint8Array;
  keep: (session: Session) => void;
}

export class LoraTrainer {
  private readonly stepSessions = new Map<string, Session>();
  private accumulate: Session | null = null;
  private adamw: Session | null = null;
  private steps = 0;
  private readonly rng: () => number;

  private constructor(
    private readonly runtime: Runtime,
    private readonly model: Qwen3Config,
    private readonly weights: ReadonlyMap<string, Tensor>,
    private readonly base: LoraAdapter,
    private readonly settings: TrainerSettings,
    private readonly params: opt.Param[],
    private state: Record<string, Tensor>,
  ) {
    this.rng = mulberry32(settings.seed);
  }

  /**
   * Starts from `adapter` (e.g. newAdapter(...)); `weights` are the base model's, by HF name,
   * or a Qwen3Session's `weights` (the transposed device layout, names.transposed): the names
   * say which, and the train-step graph reads that layout.
   */
  static async create(
    runtime: Runtime,
    model: Qwen3Config,
    weights: ReadonlyMap<string, Tensor>,
    adapter: LoraAdapter,
    settings: TrainerSettings,
  ): Promise<LoraTrainer> {
    const params: opt.Param[] = [];
    const state: Record<string, Tensor> = {};
    for (let layer = 0; layer < model.numLayers; layer++) {
      for (const target of adapter.config.targets) {
        const pair = adapter.layers[layer]?.[target];
        if (!pair) throw new Error(`LoraTrainer: adapter layer ${layer} has no ${target}`);
        const [out, inp] = projectionShape(model, target);
        const { r } = adapter.config;
        for (const [name, dims, data] of [
          [names.loraA(layer, target), [r, inp], pair.a],
          [names.loraB(layer, target), [out, r], pair.b],
        ] as const) {
          params.push({ name, dims: [...dims] });
          state[name] = await runtime.upload(f32(dims, data));
          state[opt.momentName(name)] = await runtime.upload(f32(dims, new Float32Array(data.length)));
          state[opt.velocityName(name)] = await runtime.upload(f32(dims, new Float32Array(data.length)));
        }
      }
    }
    return new LoraTrainer(runtime, model, weights, adapter, settings, params, state);
  }

  /**
   * Builds the sessions `batches` need that do not exist yet — a train-step graph per new shape,
   * and for an update the accumulate and AdamW graphs — reporting each, and asking `stop` before each.
   */
  private async prepare(batches: readonly TrainBatch[], update: boolean, stop?: () => boolean): Promise<void> {
    const pending: PendingGraph[] = [];
    const shapes = new Map(batches.map((b) => [shapeKey(b), b]));
    for (const [key, b] of shapes) {
      if (this.stepSessions.has(key)) continue;
      pending.push({
        graph: `train step for batch ${b.batch} × length ${b.length} (${b.lossIndex.length} loss positions)`,
        build: () =>
          buildTrainStep(this.model, {
            batch: b.batch,
            length: b.length,
            positions: b.lossIndex.length,
            rank: this.base.config.r,
            targets: this.base.config.targets,
            dropout: this.settings.dropout > 0,
            transposed: this.weights.has(names.transposed(`${projectionPath(0, 'q_proj')}.weight`)),
          }).bytes,
        keep: (session) => this.stepSessions.set(key, session),
      });
    }
    if (update && !this.accumulate) {
      pending.push({ graph: 'gradient accumulation', build: () => opt.buildAccumulate(this.params, names.gradName), keep: (s) => (this.accumulate = s) });
    }
    if (update && !this.adamw) {
      const o = this.settings.optimizer;
      const adamw = { betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm };
      pending.push({ graph: 'AdamW update', build: () => opt.buildAdamW(this.params, adamw), keep: (s) => (this.adamw = s) });
    }
    const report = this.settings.onGraph ?? (() => {});
    for (const [i, p] of pending.entries()) {
      if (stop?.()) throw new StepCancelled(0, batches.length);
      const at = { graph: p.graph, index: i + 1, of: pending.length };
      report({ ...at, stage: 'building' });
      const started = performance.now();
      const bytes = p.build();
      const built = performance.now();
      report({ ...at, stage: 'session', buildSeconds: (built - started) / 1000 });
      p.keep(await this.runtime.createSession(bytes, this.settings.session));
      report({ ...at, stage: 'ready', buildSeconds: (built - started) / 1000, sessionSeconds: (performance.now() - built) / 1000 });
    }
  }

  /** With `train` false the dropout masks keep everything (evaluation). */
  private batchFeeds(b: TrainBatch, train: boolean): Record<string, Tensor> {
    const feeds = batchInputs(this.model, b);
    feeds[names.LORA_SCALE] = f32([], [loraScale(this.base.config)]);
    for (const [name, t] of this.weights) feeds[name] = t;
    for (const p of this.params) feeds[p.name] = this.state[p.name]!;
    const p = this.settings.dropout;
    if (p > 0) {
      for (let layer = 0; layer < this.model.numLayers; layer++) {
        for (const target of this.base.config.targets) {
          const inp = projectionShape(this.model, target)[1];
          const keep = () => (!train ? 1 : this.rng() < p ? 0 : 1 / (1 - p));
          const mask = Float32Array.from({ length: b.batch * b.length * inp }, keep);
          feeds[names.loraDropMask(layer, target)] = f32([b.batch, b.length, inp], mask);
        }
      }
    }
    return feeds;
  }

  /** Mean loss of `batch` under the current adapter (no update). */
  async evaluate(batch: TrainBatch): Promise<{ loss: number; tokens: number }> {
    await this.prepare([batch], false);
    const out = await this.stepSessions.get(shapeKey(batch))!.run(this.batchFeeds(batch, false), [names.LOSS]);
    const loss = floats(out[names.LOSS], names.LOSS)[0]!;
    for (const t of Object.values(out)) this.runtime.release(t);
    return { loss, tokens: batch.tokens };
  }

  /**
   * One optimizer step over `batches` (the gradient-accumulation window) at learning rate `lr`.
   * `options.stop` can end it between micro-batches (StepCancelled, nothing updated); once every
   * micro-batch has run, the update is made (it costs little next to them).
   */
  async step(batches: readonly TrainBatch[], lr: number, options: StepOptions = {}): Promise<StepResult> {
    if (batches.length === 0) throw new Error('LoraTrainer.step: no micro-batches');
    const { stop } = options;
    await this.prepare(batches, true, stop);
    const [accumulate, adamw] = [this.accumulate!, this.adamw!];
    const total = batches.reduce((n, b) => n + b.tokens, 0);
    let acc: Record<string, Tensor> = {};
    for (const p of this.params) {
      acc[opt.accName(p.name)] = await this.runtime.upload(f32(p.dims, new Float32Array(p.dims.reduce((a, d) => a * d, 1))));
    }
    let lossSum = 0;
    for (const [i, b] of batches.entries()) {
      if (stop?.()) {
        for (const t of Object.values(acc)) this.runtime.release(t);
        throw new StepCancelled(i, batches.length);
      }
      options.onMicroBatch?.(i + 1, batches.length);
      const out = await this.stepSessions.get(shapeKey(b))!.run(this.batchFeeds(b, true), [names.LOSS]);
      lossSum += floats(out[names.LOSS], names.LOSS)[0]! * b.tokens;
      const accOut = await accumulate.run({ ...acc, ...out, [opt.GRAD_WEIGHT]: f32([], [b.tokens / total]) });
      for (const t of [...Object.values(acc), ...Object.values(out)]) this.runtime.release(t);
      acc = Object.fromEntries(this.params.map((p) => [opt.accName(p.name), accOut[opt.next(opt.accName(p.name))]!]));
    }
    const [b1, b2] = this.settings.optimizer.betas;
    const out = await adamw.run(
      {
        ...this.state,
        ...acc,
        [opt.LR]: f32([], [lr]),
        [opt.BIAS_CORRECTION1]: f32([], [1 - b1 ** (this.steps + 1)]),
        [opt.BIAS_CORRECTION2]: f32([], [1 - b2 ** (this.steps + 1)]),
      },
      [opt.GRAD_NORM],
    );
    for (const t of Object.values(acc)) this.runtime.release(t);
    const loss = lossSum / total;
    const gradNorm = floats(out[opt.GRAD_NORM], opt.GRAD_NORM)[0]!;
    // A finite norm means every gradient element is finite, so the update is too.
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const t of Object.values(out)) this.runtime.release(t);
      throw new NonFiniteStep(loss, gradNorm);
    }
    this.steps += 1;
    for (const t of Object.values(this.state)) this.runtime.release(t);
    const next: Record<string, Tensor> = {};
    for (const p of this.params) {
      for (const name of [p.name, opt.momentName(p.name), opt.velocityName(p.name)]) next[name] = out[opt.next(name)]!;
    }
    this.state = next;
    return { loss, tokens: total, gradNorm };
  }

  /** The current adapter, read back to the host. */
  async adapter(): Promise<LoraAdapter> {
    const layers: LoraAdapter['layers'] = this.base.layers.map(() => ({}));
    for (let layer = 0; layer < this.model.numLayers; layer++) {
      for (const target of this.base.config.targets) {
        const read = async (name: string) => Float32Array.from((await this.runtime.download(this.state[name]!)).data as Float32Array);
        layers[layer]![target] = { a: await read(names.loraA(layer, target)), b: await read(names.loraB(layer, target)) };
      }
    }
    return { config: this.base.config, layers };
  }

  async release(): Promise<void> {
    for (const t of Object.values(this.state)) this.runtime.release(t);
    for (const s of [...this.stepSessions.values(), this.accumulate, this.adamw]) await s?.release();
  }
}

/** Micro-batches of one shape share a train-step session. */
const shapeKey = (b: TrainBatch) => `${b.batch}x${b.length}x${b.lossIndex.length}`;

/** The train-step inputs that describe the micro-batch itself (ids, RoPE, mask, loss selection). */
export function batchInputs(model: Qwen3Config, b: TrainBatch): Record<string, Tensor> {
  const { headDim, ropeTheta } = model;
  const T = b.length;
  const { cos, sin } = ropeTables(
    Array.from({ length: T }, (_, t) => t),
    headDim,
    ropeTheta,
  );
  const select = new Float32Array(b.lossIndex.length * b.batch * T); // [N, B·T] one-hot rows
  b.lossIndex.forEach((flat, n) => {
    if (b.lossWeight[n]) select[n * b.batch * T + flat] = 1;
  });
  return {
    [names.INPUT_IDS]: i64([b.batch, T], b.ids),
    [names.ROPE_COS]: f32([T, headDim], cos),
    [names.ROPE_SIN]: f32([T, headDim], sin),
    [names.ATTN_BIAS]: f32([T, T], causalBias(0, T)),
    [names.LOSS_SELECT]: f32([b.lossIndex.length, b.batch * T], select),
    [names.LOSS_TARGET]: i64([b.lossTarget.length], b.lossTarget),
    [names.LOSS_WEIGHT]: f32([b.lossWeight.length], b.lossWeight),
  };
}
