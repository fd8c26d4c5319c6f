// One GRPO step's loss and LoRA gradient for given completions and rewards (no sampling): the
// per-token log-probabilities of policy and reference from the session's forward, the objective
// from grpo.ts, and the gradient from the train-step graph fed grpo.ts's per-token weights.
//
// Two things make the SFT train-step graph compute GRPO's gradient without a change to it:
// - It takes loss = Σ_n (w_n / Σw)·CE_n. GRPO's weights are signed and often sum to 0 (advantages
//   sum to 0 per group), so one position past the scored ones, whose loss_select row is zero,
//   gets the weight 1 − Σw: then Σw = 1 and loss = Σ w_n·CE_n + (1 − Σw)·ln V. That position's
//   hidden state is the zero vector whatever the adapter, so it adds a constant (uniform logits:
//   CE = ln V) and no gradient.
// - TRL takes log-probabilities of logits / temperature. logits = (rms(x)·w_norm)·E, so feeding
//   the final norm weight divided by the temperature makes the graph's CE that of logits / T.
import type { Qwen3Config } from '../model/config.ts';
import { f16ToF32, f32ToF16 } from '../model/dtype.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import type { PromptFormat } from '../model/prompt.ts';
import * as names from '../model/qwen3/names.ts';
import { buildTrainStep, TRAIN_STEP_DISABLED_OPTIMIZERS } from '../model/qwen3/train-step.ts';
import { loraSites } from '../model/tensors.ts';
import { makeBatch, POSITION_STEP, type TrainBatch } from './batches.ts';
import { advantages, grpoTerms, type GrpoSequence, type GrpoTerms } from './grpo.ts';
import type { GrpoSettings } from './grpo-config.ts';
import { f32, floats, hostTensor, type HostTensor, type Runtime, type Tensor } from './runtime.ts';
import type { Qwen3Session } from './session.ts';
import type { Qwen3Tokenizer, TokenizedExample } from './tokenizer.ts';
import { batchInputs } from './trainer.ts';

const FINAL_NORM = 'model.norm.weight';

/** The prompts (queries), G completions per prompt and their rewards of one generation batch. */
export interface GrpoBatch {
  prompts: string[];
  completions: string[][];
  rewards: number[][];
}

export interface GrpoStepOptions {
  runtime: Runtime;
  /** The reference policy's weights (base, SFT adapter merged); its adapter is changed and left unset. */
  session: Qwen3Session;
  tokenizer: Qwen3Tokenizer;
  format: PromptFormat;
  /** The adapter being trained (its dropout is not applied: the step is deterministic). */
  policy: LoraAdapter;
  grpo: GrpoSettings;
  /** Rows per micro-batch (training.batch_size): the aggregation's partition (grpo.ts). */
  microBatch: number;
}

export interface GrpoStepResult {
  loss: number;
  advantages: number[][];
  /** Per prompt and generation: the mean per-token KL to the reference. */
  kl: number[][];
  /** Per prompt and generation: the completion tokens scored (after the cut at max_completion_length). */
  tokens: number[][];
  /** L2 norm of the LoRA gradient (before any clipping). */
  gradNorm: number;
  /** By graph name (names.loraA / loraB, [r, in] and [out, r]). */
  gradients: Map<string, Float32Array>;
  /** The forward passes' log-probabilities and the objective's terms the gradient was made from. */
  scored: ScoredGrpoBatch;
  /** Σ w·CE as the train-step graph computed it (its dummy position's constant taken off): a check on the weights it was fed. */
  weightedCrossEntropy: number;
}

/** A completion as generation would leave it: its tokens and <|im_end|>, cut at maxTokens (then without the end). */
function completionExample(tokenizer: Qwen3Tokenizer, query: string, completion: string, format: PromptFormat, maxTokens: number): { example: TokenizedExample; prompt: number; truncated: boolean } {
  const full = tokenizer.example(query, completion, format);
  const prompt = full.completionMask.indexOf(1);
  const truncated = full.ids.length - prompt > maxTokens;
  const ids = full.ids.slice(0, prompt + maxTokens);
  return { example: { ids, completionMask: full.completionMask.slice(0, ids.length) }, prompt, truncated };
}

/** log softmax(logits / temperature)[token], in float64. */
function tokenLogp(logits: Float32Array, token: number, temperature: number): number {
  let max = -Infinity;
  for (const z of logits) max = Math.max(max, z / temperature);
  let sum = 0;
  for (const z of logits) sum += Math.exp(z / temperature - max);
  return logits[token]! / temperature - max - Math.log(sum);
}

/** Log-probabilities of each completion token under the session's current adapter (one forward per token, cached). */
async function completionLogps(session: Qwen3Session, ids: readonly number[], prompt: number, temperature: number): Promise<number[]> {
  await session.reset();
  const logps: number[] = [];
  let logits = await session.forward(ids.slice(0, prompt));
  for (let t = prompt; t < ids.length; t++) {
    logps.push(tokenLogp(logits, ids[t]!, temperature));
    if (t + 1 < ids.length) logits = await session.forward([ids[t]!]);
  }
  await session.reset();
  return logps;
}

/** The final norm weight divided by `temperature`, in the session's dtype. */
async function scaledFinalNorm(runtime: Runtime, session: Qwen3Session, temperature: number): Promise<HostTensor> {
  const norm = await runtime.download(session.weights.get(FINAL_NORM)!);
  if (norm.type === 'float32') return f32(norm.dims, (norm.data as Float32Array).map((v) => v / temperature));
  if (norm.type === 'float16') return hostTensor('float16', norm.dims, (norm.data as Uint16Array).map((h) => f32ToF16(f16ToF32(h) / temperature)));
  throw new Error(`grpoStep: ${FINAL_NORM} is ${norm.type} on the device; float32 or float16 expected`);
}

/** `batch` with at least one padding position past its scored ones (the dummy position of the module comment). */
function withSpareSlot(batch: TrainBatch): TrainBatch {
  if (batch.lossIndex.length > batch.tokens) return batch;
  const pad = Array.from({ length: POSITION_STEP }, () => 0);
  return { ...batch, lossIndex: [...batch.lossIndex, ...pad], lossTarget: [...batch.lossTarget, ...pad], lossWeight: [...batch.lossWeight, ...pad] };
}

/** The batch's completions as the loss sees them: tokenized, scored by policy and reference, and the objective's terms. */
export interface ScoredGrpoBatch {
  rows: { example: TokenizedExample; prompt: number; truncated: boolean }[];
  advantages: number[][];
  sequences: GrpoSequence[];
  terms: GrpoTerms;
}

/** The forward passes and the objective of a step (no gradient): what a finite-difference check differentiates. */
export async function scoreGrpoBatch(batch: GrpoBatch, o: GrpoStepOptions): Promise<ScoredGrpoBatch> {
  const { session, grpo } = o;
  const rows = batch.prompts.flatMap((query, p) => batch.completions[p]!.map((completion) => completionExample(o.tokenizer, query, completion, o.format, grpo.maxCompletionLength)));
  const adv = advantages(batch.rewards, grpo.scaleRewards);
  await session.setAdapter(o.policy);
  const logp: number[][] = [];
  for (const r of rows) logp.push(await completionLogps(session, r.example.ids, r.prompt, grpo.temperature));
  await session.setAdapter(null); // the reference: the adapter disabled
  const ref: number[][] = [];
  for (const r of rows) ref.push(await completionLogps(session, r.example.ids, r.prompt, grpo.temperature));
  const sequences: GrpoSequence[] = rows.map((r, k) => ({ advantage: adv.flat()[k]!, logp: logp[k]!, ref: ref[k]!, scored: !(r.truncated && grpo.maskTruncatedCompletions) }));
  const terms = grpoTerms(sequences, { lossType: grpo.lossType, beta: grpo.beta, biasCorrectionKl: grpo.useBiasCorrectionKl, maxCompletionLength: grpo.maxCompletionLength, microBatch: o.microBatch });
  return { rows, advantages: adv, sequences, terms };
}

export async function grpoStep(batch: GrpoBatch, o: GrpoStepOptions): Promise<GrpoStepResult> {
  const { runtime, session, grpo } = o;
  const model: Qwen3Config = session.config;
  const scored = await scoreGrpoBatch(batch, o);
  const { rows, advantages: adv, terms } = scored;

  // makeBatch lists each row's completion positions in order: the weights flattened line up with them.
  const longest = Math.max(...rows.map((r) => r.example.ids.length));
  const train = withSpareSlot(makeBatch(rows.map((r) => r.example), { maxLength: longest, lossOn: 'completion' }));
  const weights = new Float32Array(train.lossIndex.length);
  terms.weights.flat().forEach((w, n) => (weights[n] = w));
  const dummy = 1 - terms.weights.flat().reduce((a, b) => a + b, 0);
  weights[train.tokens] = dummy;

  const lora = o.policy.config;
  const params = [...loraSites(model, lora.targets)].flatMap(({ layer, target, inFeatures, outFeatures }) => {
    const pair = o.policy.layers[layer]?.[target];
    if (!pair) throw new Error(`grpoStep: the policy adapter has no ${target} in layer ${layer}`);
    return [
      { name: names.loraA(layer, target), tensor: f32([lora.r, inFeatures], pair.a) },
      { name: names.loraB(layer, target), tensor: f32([outFeatures, lora.r], pair.b) },
    ];
  });
  const shape = { batch: train.batch, length: train.length, positions: train.lossIndex.length, rank: lora.r, targets: lora.targets, dropout: false, layout: session.layout, transposed: true };
  const step = await runtime.createSession(buildTrainStep(model, shape).bytes, { disabledOptimizers: TRAIN_STEP_DISABLED_OPTIMIZERS });
  const norm = await runtime.upload(await scaledFinalNorm(runtime, session, grpo.temperature));
  try {
    const feeds: Record<string, Tensor> = { ...batchInputs(model, train, session.layout), [names.LORA_SCALE]: f32([], [loraScale(lora)]) };
    for (const [name, t] of session.weights) feeds[name] = t;
    feeds[FINAL_NORM] = norm;
    for (const p of params) feeds[p.name] = p.tensor;
    feeds[names.LOSS_WEIGHT] = f32([weights.length], weights);
    const out = await step.run(feeds, [names.LOSS, ...params.map((p) => names.gradName(p.name))]);
    const gradients = new Map(params.map((p) => [p.name, Float32Array.from(floats(out[names.gradName(p.name)], names.gradName(p.name)))]));
    const graphLoss = floats(out[names.LOSS], names.LOSS)[0]!;
    for (const t of Object.values(out)) runtime.release(t);
    let squares = 0;
    for (const g of gradients.values()) for (const v of g) squares += v * v;
    const G = batch.completions[0]!.length;
    const byPrompt = <T>(xs: readonly T[]) => batch.prompts.map((_, p) => xs.slice(p * G, (p + 1) * G));
    return {
      loss: terms.loss,
      advantages: adv,
      kl: byPrompt(terms.kl),
      tokens: byPrompt(rows.map((r) => r.example.ids.length - r.prompt)),
      gradNorm: Math.sqrt(squares),
      gradients,
      scored,
      weightedCrossEntropy: graphLoss - dummy * Math.log(model.vocabSize),
    };
  } finally {
    runtime.release(norm);
    await step.release();
  }
}
