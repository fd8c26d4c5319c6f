// LoRA training on the engine's runtime: micro-batches through the train-step graph (one
// session per shape bucket), gradients accumulated weighted by scored tokens, then one AdamW
// step. Parameters and optimizer state stay device tensors between steps.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import * as names from '../model/qwen3/names.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import * as opt from '../model/qwen3/optimizer.ts';
import { buildTrainStep } from '../model/qwen3/train-step.ts';
import { projectionPath, projectionShape } from '../model/tensors.ts';
import type { TrainBatch } from './batches.ts';
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

export interface TrainerSettings {
  optimizer: OptimizerSettings;
  dropout: number;
  seed: number;
  session?: SessionOptions;
}

export class LoraTrainer {
  private readonly stepSessions = new Map<string, Session>();
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
    private readonly accumulate: Session,
    private readonly adamw: Session,
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
    const o = settings.optimizer;
    const accumulate = await runtime.createSession(opt.buildAccumulate(params, names.gradName), settings.session);
    const adamw = await runtime.createSession(
      opt.buildAdamW(params, { betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm }),
      settings.session,
    );
    return new LoraTrainer(runtime, model, weights, adapter, settings, params, state, accumulate, adamw);
  }

  private async stepSession(b: TrainBatch): Promise<Session> {
    const key = `${b.batch}x${b.length}x${b.lossIndex.length}`;
    let session = this.stepSessions.get(key);
    if (!session) {
      const { bytes } = buildTrainStep(this.model, {
        batch: b.batch,
        length: b.length,
        positions: b.lossIndex.length,
        rank: this.base.config.r,
        targets: this.base.config.targets,
        dropout: this.settings.dropout > 0,
        transposed: this.weights.has(names.transposed(`${projectionPath(0, 'q_proj')}.weight`)),
      });
      session = await this.runtime.createSession(bytes, this.settings.session);
      this.stepSessions.set(key, session);
    }
    return session;
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
    const out = await (await this.stepSession(batch)).run(this.batchFeeds(batch, false), [names.LOSS]);
    const loss = floats(out[names.LOSS], names.LOSS)[0]!;
    for (const t of Object.values(out)) this.runtime.release(t);
    return { loss, tokens: batch.tokens };
  }

  /** One optimizer step over `batches` (the gradient-accumulation window) at learning rate `lr`. */
  async step(batches: readonly TrainBatch[], lr: number): Promise<StepResult> {
    if (batches.length === 0) throw new Error('LoraTrainer.step: no micro-batches');
    const total = batches.reduce((n, b) => n + b.tokens, 0);
    let acc: Record<string, Tensor> = {};
    for (const p of this.params) {
      acc[opt.accName(p.name)] = await this.runtime.upload(f32(p.dims, new Float32Array(p.dims.reduce((a, d) => a * d, 1))));
    }
    let lossSum = 0;
    for (const b of batches) {
      const out = await (await this.stepSession(b)).run(this.batchFeeds(b, true), [names.LOSS]);
      lossSum += floats(out[names.LOSS], names.LOSS)[0]! * b.tokens;
      const accOut = await this.accumulate.run({ ...acc, ...out, [opt.GRAD_WEIGHT]: f32([], [b.tokens / total]) });
      for (const t of [...Object.values(acc), ...Object.values(out)]) this.runtime.release(t);
      acc = Object.fromEntries(this.params.map((p) => [opt.accName(p.name), accOut[opt.next(opt.accName(p.name))]!]));
    }
    this.steps += 1;
    const [b1, b2] = this.settings.optimizer.betas;
    const out = await this.adamw.run(
      {
        ...this.state,
        ...acc,
        [opt.LR]: f32([], [lr]),
        [opt.BIAS_CORRECTION1]: f32([], [1 - b1 ** this.steps]),
        [opt.BIAS_CORRECTION2]: f32([], [1 - b2 ** this.steps]),
      },
      [opt.GRAD_NORM],
    );
    for (const t of [...Object.values(this.state), ...Object.values(acc)]) this.runtime.release(t);
    const next: Record<string, Tensor> = {};
    for (const p of this.params) {
      for (const name of [p.name, opt.momentName(p.name), opt.velocityName(p.name)]) next[name] = out[opt.next(name)]!;
    }
    this.state = next;
    return { loss: lossSum / total, tokens: total, gradNorm: floats(out[opt.GRAD_NORM], opt.GRAD_NORM)[0]! };
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
    for (const s of [...this.stepSessions.values(), this.accumulate, this.adamw]) await s.release();
  }
}

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
