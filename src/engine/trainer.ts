// LoRA training on the engine's runtime: micro-batches through the train-step graph (one
// session per shape bucket), gradients accumulated weighted by scored tokens, then one AdamW
// step. Parameters and optimizer state stay device tensors between steps; per micro-batch the
// host sends only the batch itself and four dropout scalars (the masks are made in the graph,
// dropout.ts; the first micro-batch starts the gradient sums, so no zeroed accumulators are
// uploaded). The state exports as plain data and a trainer can start from it (checkpoint.ts).
// Graphs are built when first needed (step 1 builds most of them, a new shape bucket later builds
// its own) and each build is reported, since at real size they take minutes.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter, type LoraConfig } from '../model/peft.ts';
import { dropoutValues } from '../model/qwen3/dropout.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import { floatWeights, weightLayout, type WeightLayout } from '../model/qwen3/layout.ts';
import * as names from '../model/qwen3/names.ts';
import * as opt from '../model/qwen3/optimizer.ts';
import { buildTrainStep, TRAIN_STEP_DISABLED_OPTIMIZERS, vocabularyInputs } from '../model/qwen3/train-step.ts';
import { loraSites } from '../model/tensors.ts';
import type { TrainBatch } from './batches.ts';
import type { GraphProgress } from './protocol.ts';
import { f32, floats, hostFeeds, hostTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';
import type { Qwen3Session } from './session.ts';
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

/** Where a trainer starts: an adapter (fresh or loaded) with zero moments, or a saved state. */
export type TrainerStart = { adapter: LoraAdapter } | { config: LoraConfig; state: TrainerState };

export interface TrainerOptions {
  runtime: Runtime;
  model: Qwen3Config;
  /**
   * The base weights by graph input name, and how they are laid out: a Qwen3Session's `weights`
   * and `layout` with `transposed` (sessionWeights), or tensors uploaded under their HF names with
   * weightLayout(model) and `transposed` false.
   */
  weights: ReadonlyMap<string, Tensor>;
  layout: WeightLayout;
  transposed: boolean;
  start: TrainerStart;
  optimizer: OptimizerSettings;
  dropout: number;
  /** Keys the dropout masks (with the step and micro-batch: dropout.ts). */
  seed: number;
  session?: SessionOptions;
  /**
   * Rebuild each decoder layer's activations in the backward instead of keeping them (TRL's
   * gradient checkpointing): one more forward per step for a fraction of the activation memory.
   */
  recomputeLayers?: boolean;
  /** Told as each graph is built and its session created (for the page's sub-progress). */
  onGraph?: (progress: GraphProgress) => void;
}

/** A session's resident weights as LoraTrainer reads them. */
export const sessionWeights = (session: Qwen3Session): Pick<TrainerOptions, 'weights' | 'layout' | 'transposed'> => ({
  weights: session.weights,
  layout: session.layout,
  transposed: true,
});

/**
 * What training has changed, as plain data (structured-clonable, so IndexedDB stores it as is):
 * the step count and, by graph name, every LoRA matrix (names.loraA / loraB) and its AdamW moments
 * (optimizer.ts momentName / velocityName). Dropout needs no generator state: its masks are keyed
 * by (seed, step, micro-batch).
 */
export interface TrainerState {
  /** Optimizer steps taken (AdamW's t). */
  step: number;
  tensors: Record<string, Float32Array>;
}

export interface StepOptions {
  /** Asked before each graph build and micro-batch: true ends the step there (StepCancelled). */
  stop?: () => boolean;
  /** Told as each micro-batch (1-based) of the step starts. */
  onMicroBatch?: (index: number, of: number) => void;
  /**
   * The weight of each micro-batch's gradient in the step's sum; default its scored tokens over
   * the step's (a token-weighted mean). GRPO's per-token weights are already normalised over the
   * whole window (grpo.ts), so its micro-batches are summed with weight 1.
   */
  gradWeights?: readonly number[];
}

/** A graph the trainer still has to build, and where its session goes. */
interface PendingGraph {
  graph: string;
  build: () => Uint8Array;
  /** Session options of this graph, when not the trainer's own. */
  options?: SessionOptions;
  keep: (session: Session) => void;
}

/** The trained tensors of each LoRA matrix: the matrix and its two AdamW moments. */
const trainedNames = (param: string) => [param, opt.momentName(param), opt.velocityName(param)];

export class LoraTrainer {
  private readonly stepSessions = new Map<string, Session>();
  /** The accumulation window's first micro-batch (acc = w·g) and the rest (acc += w·g). */
  private accumulateFirst: Session | null = null;
  private accumulate: Session | null = null;
  private adamw: Session | null = null;

  private constructor(
    private readonly options: TrainerOptions,
    readonly lora: LoraConfig,
    private readonly params: opt.Param[],
    private state: Record<string, Tensor>,
    private steps: number,
  ) {}

  static async create(options: TrainerOptions): Promise<LoraTrainer> {
    const { runtime, model, start } = options;
    floatWeights(options.layout, 'LoraTrainer: training');
    const fresh = 'adapter' in start;
    const lora = fresh ? start.adapter.config : start.config;
    const params: opt.Param[] = [];
    const state: Record<string, Tensor> = {};
    try {
      for (const { layer, target, outFeatures, inFeatures } of loraSites(model, lora.targets)) {
        const pair = fresh ? start.adapter.layers[layer]?.[target] : undefined;
        if (fresh && !pair) throw new Error(`LoraTrainer: adapter layer ${layer} has no ${target}`);
        for (const [name, dims, matrix] of [
          [names.loraA(layer, target), [lora.r, inFeatures], pair?.a],
          [names.loraB(layer, target), [outFeatures, lora.r], pair?.b],
        ] as const) {
          params.push({ name, dims: [...dims] });
          const size = dims[0] * dims[1];
          const values = fresh ? [matrix, new Float32Array(size), new Float32Array(size)] : trainedNames(name).map((n) => start.state.tensors[n]);
          for (const [i, key] of trainedNames(name).entries()) {
            const data = values[i];
            if (data?.length !== size) {
              const what = data ? `has ${data.length} values in ${key}` : `has no tensor ${key}`;
              throw new Error(`LoraTrainer: ${fresh ? 'the adapter' : 'the training state'} ${what}; [${dims.join(', ')}] (r ${lora.r}, ${target} of layer ${layer}) needs ${size}`);
            }
            state[key] = await runtime.upload(f32(dims, data));
          }
        }
      }
      const extra = fresh ? undefined : Object.keys(start.state.tensors).find((name) => !(name in state));
      if (extra) throw new Error(`LoraTrainer: the training state has a tensor ${extra} that r ${lora.r} on [${lora.targets.join(', ')}] does not train`);
    } catch (error) {
      for (const t of Object.values(state)) runtime.release(t);
      throw error;
    }
    return new LoraTrainer(options, lora, params, state, fresh ? 0 : start.state.step);
  }

  /** Optimizer steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * The current LoRA matrices by graph name (names.loraA [r, in], names.loraB [out, r]), as the
   * trainer's own device tensors: the next step releases them, so a reader copies what it keeps
   * (trained-adapter.ts).
   */
  get parameters(): Readonly<Record<string, Tensor>> {
    return Object.fromEntries(this.params.map((p) => [p.name, this.state[p.name]!]));
  }

  /**
   * Builds the sessions `batches` need that do not exist yet — a train-step graph per new shape,
   * and for an update the accumulate and AdamW graphs — reporting each, and asking `stop` before each.
   */
  private async prepare(batches: readonly TrainBatch[], update: boolean, stop?: () => boolean, weighted = batches.length > 1): Promise<void> {
    const { model, layout, transposed, dropout, optimizer } = this.options;
    const pending: PendingGraph[] = [];
    const shapes = new Map(batches.map((b) => [shapeKey(b), b]));
    for (const [key, b] of shapes) {
      if (this.stepSessions.has(key)) continue;
      const recomputeLayers = this.options.recomputeLayers ?? false;
      const shape = { batch: b.batch, length: b.length, positions: b.lossIndex.length, rank: this.lora.r, targets: this.lora.targets, dropout: dropout > 0, layout, transposed, recomputeLayers };
      pending.push({
        graph: `train step for batch ${b.batch} × length ${b.length} (${b.lossIndex.length} loss positions)${recomputeLayers ? ', layers recomputed' : ''}`,
        build: () => buildTrainStep(model, shape).bytes,
        // ORT's common-subexpression pass would merge the backward's float32 casts and recomputed
        // layers back into the forward's, keeping them alive all step (train-step.ts).
        options: { ...this.options.session, disabledOptimizers: TRAIN_STEP_DISABLED_OPTIMIZERS },
        keep: (session) => this.stepSessions.set(key, session),
      });
    }
    if (update && weighted && !this.accumulateFirst) {
      pending.push({ graph: 'gradient accumulation (first micro-batch)', build: () => opt.buildAccumulate(this.params, names.gradName, true), keep: (s) => (this.accumulateFirst = s) });
    }
    if (update && batches.length > 1 && !this.accumulate) {
      pending.push({ graph: 'gradient accumulation', build: () => opt.buildAccumulate(this.params, names.gradName), keep: (s) => (this.accumulate = s) });
    }
    if (update && !this.adamw) {
      const adamw = { betas: optimizer.betas, eps: optimizer.eps, weightDecay: optimizer.weightDecay, maxGradNorm: optimizer.maxGradNorm };
      pending.push({ graph: 'AdamW update', build: () => opt.buildAdamW(this.params, adamw), keep: (s) => (this.adamw = s) });
    }
    const report = this.options.onGraph ?? (() => {});
    for (const [i, p] of pending.entries()) {
      if (stop?.()) throw new StepCancelled(0, batches.length);
      const at = { graph: p.graph, index: i + 1, of: pending.length };
      report({ ...at, stage: 'building' });
      const started = performance.now();
      const bytes = p.build();
      const built = performance.now();
      report({ ...at, stage: 'session', buildSeconds: (built - started) / 1000 });
      p.keep(await this.options.runtime.createSession(bytes, p.options ?? this.options.session));
      report({ ...at, stage: 'ready', buildSeconds: (built - started) / 1000, sessionSeconds: (performance.now() - built) / 1000 });
    }
  }

  /** Micro-batch `microBatch` of the next step; with `train` false dropout keeps everything (evaluation). */
  private batchFeeds(b: TrainBatch, microBatch: number, train: boolean): Record<string, Tensor> {
    const { model, layout, weights, dropout, seed } = this.options;
    const feeds = batchInputs(model, b, layout);
    feeds[names.LORA_SCALE] = f32([], [loraScale(this.lora)]);
    for (const [name, t] of weights) feeds[name] = t;
    for (const p of this.params) feeds[p.name] = this.state[p.name]!;
    if (dropout > 0) {
      const d = dropoutValues(dropout, seed, this.steps, microBatch, train);
      feeds[names.DROPOUT_RUN_KEY] = hostTensor('int32', [], Int32Array.of(d.runKey));
      feeds[names.DROPOUT_STEP_KEY] = hostTensor('int32', [], Int32Array.of(d.stepKey));
      feeds[names.DROPOUT_THRESHOLD] = hostTensor('int32', [], Int32Array.of(d.threshold));
      feeds[names.DROPOUT_SCALE] = f32([], [d.scale]);
    }
    return feeds;
  }

  /** Mean loss of `batch` under the current adapter (no update). */
  async evaluate(batch: TrainBatch): Promise<{ loss: number; tokens: number }> {
    await this.prepare([batch], false);
    const out = await this.stepSessions.get(shapeKey(batch))!.run(this.batchFeeds(batch, 0, false), [names.LOSS]);
    const loss = floats(out[names.LOSS], names.LOSS)[0]!;
    for (const t of Object.values(out)) this.options.runtime.release(t);
    return { loss, tokens: batch.tokens };
  }

  /**
   * One optimizer step over `batches` (the gradient-accumulation window) at learning rate `lr`.
   * `options.stop` can end it between micro-batches (StepCancelled, nothing updated); once every
   * micro-batch has run, the update is made (it costs little next to them).
   */
  async step(batches: readonly TrainBatch[], lr: number, options: StepOptions = {}): Promise<StepResult> {
    if (batches.length === 0) throw new Error('LoraTrainer.step: no micro-batches');
    const { runtime } = this.options;
    const { stop } = options;
    const total = batches.reduce((n, b) => n + b.tokens, 0);
    const gradWeights = options.gradWeights ?? batches.map((b) => b.tokens / total);
    if (gradWeights.length !== batches.length || !gradWeights.every(Number.isFinite)) throw new Error(`LoraTrainer.step: ${gradWeights.length} gradient weights (${gradWeights.join(', ')}) for ${batches.length} micro-batches; one finite weight each expected`);
    // One micro-batch of weight 1 is its own sum; any other needs the accumulate graphs.
    const direct = batches.length === 1 && gradWeights[0] === 1;
    await this.prepare(batches, true, stop, !direct);
    // The gradient sums by accName(param): one micro-batch's own gradients, else accumulated.
    let acc: Record<string, Tensor> = {};
    let lossSum = 0;
    for (const [i, b] of batches.entries()) {
      if (stop?.()) {
        for (const t of Object.values(acc)) runtime.release(t);
        throw new StepCancelled(i, batches.length);
      }
      options.onMicroBatch?.(i + 1, batches.length);
      const out = await this.stepSessions.get(shapeKey(b))!.run(this.batchFeeds(b, i, true), [names.LOSS]);
      lossSum += floats(out[names.LOSS], names.LOSS)[0]! * b.tokens;
      if (direct) {
        acc = Object.fromEntries(this.params.map((p) => [opt.accName(p.name), out[names.gradName(p.name)]!]));
        const kept = new Set(Object.values(acc));
        for (const t of Object.values(out)) if (!kept.has(t)) runtime.release(t);
        continue;
      }
      const accumulate = i === 0 ? this.accumulateFirst! : this.accumulate!;
      const accOut = await accumulate.run({ ...acc, ...out, [opt.GRAD_WEIGHT]: f32([], [gradWeights[i]!]) });
      for (const t of [...Object.values(acc), ...Object.values(out)]) runtime.release(t);
      acc = Object.fromEntries(this.params.map((p) => [opt.accName(p.name), accOut[opt.next(opt.accName(p.name))]!]));
    }
    const [b1, b2] = this.options.optimizer.betas;
    const out = await this.adamw!.run(
      {
        ...this.state,
        ...acc,
        [opt.LR]: f32([], [lr]),
        [opt.BIAS_CORRECTION1]: f32([], [1 - b1 ** (this.steps + 1)]),
        [opt.BIAS_CORRECTION2]: f32([], [1 - b2 ** (this.steps + 1)]),
      },
      [opt.GRAD_NORM],
    );
    for (const t of Object.values(acc)) runtime.release(t);
    const loss = lossSum / total;
    const gradNorm = floats(out[opt.GRAD_NORM], opt.GRAD_NORM)[0]!;
    // A finite norm means every gradient element is finite, so the update is too.
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const t of Object.values(out)) runtime.release(t);
      throw new NonFiniteStep(loss, gradNorm);
    }
    this.steps += 1;
    for (const t of Object.values(this.state)) runtime.release(t);
    this.state = Object.fromEntries(this.params.flatMap((p) => trainedNames(p.name).map((name) => [name, out[opt.next(name)]!])));
    return { loss, tokens: total, gradNorm };
  }

  private async read(name: string): Promise<Float32Array> {
    return Float32Array.from((await this.options.runtime.download(this.state[name]!)).data as Float32Array);
  }

  /** The current adapter, read back to the host. */
  async adapter(): Promise<LoraAdapter> {
    const layers: LoraAdapter['layers'] = Array.from({ length: this.options.model.numLayers }, () => ({}));
    for (const { layer, target } of loraSites(this.options.model, this.lora.targets)) {
      layers[layer]![target] = { a: await this.read(names.loraA(layer, target)), b: await this.read(names.loraB(layer, target)) };
    }
    return { config: this.lora, layers };
  }

  /** The parameters, moments and step count, read back to the host (a checkpoint's tensors). */
  async exportState(): Promise<TrainerState> {
    const tensors: Record<string, Float32Array> = {};
    for (const p of this.params) for (const name of trainedNames(p.name)) tensors[name] = await this.read(name);
    return { step: this.steps, tensors };
  }

  async release(): Promise<void> {
    for (const t of Object.values(this.state)) this.options.runtime.release(t);
    for (const s of [...this.stepSessions.values(), this.accumulateFirst, this.accumulate, this.adamw]) await s?.release();
  }
}

/** Micro-batches of one shape share a train-step session. */
const shapeKey = (b: TrainBatch) => `${b.batch}x${b.length}x${b.lossIndex.length}`;

/** The train-step inputs that describe the micro-batch itself (tokens, RoPE, mask, loss selection), for weights in `layout`. */
export function batchInputs(model: Qwen3Config, b: TrainBatch, layout: WeightLayout = weightLayout(model)): Record<string, Tensor> {
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
  const feeds: Record<string, Tensor> = {
    [names.ROPE_COS]: f32([T, headDim], cos),
    [names.ROPE_SIN]: f32([T, headDim], sin),
    [names.ATTN_BIAS]: f32([T, T], causalBias(0, T)),
    [names.LOSS_SELECT]: f32([b.lossIndex.length, b.batch * T], select),
    [names.LOSS_WEIGHT]: f32([b.lossWeight.length], b.tokenWeights ?? b.lossWeight),
  };
  return { ...feeds, ...hostFeeds(vocabularyInputs(model, layout, b.batch, T, b.ids, b.lossTarget)) };
}
