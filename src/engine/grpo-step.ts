// One GRPO step's pieces that the dry step (`qmd grpo --dry-step`: given completions and rewards)
// and the run (grpo-job.ts: sampled ones) share — completions as the loss sees them, per-token
// log-probabilities, the objective's terms, the train-step micro-batches carrying its weights, and
// the weights the train step reads — and the dry step itself: loss and LoRA gradient, no update.
//
// Two things make the SFT train-step graph compute GRPO's gradient without a change to it:
// - It takes loss = Σ_n (w_n / Σw)·CE_n. GRPO's weights are signed and often sum to 0 (advantages
//   sum to 0 per group), so one position past the scored ones, whose loss_select row is zero,
//   gets the weight 1 − Σw: then Σw = 1 and loss = Σ w_n·CE_n + (1 − Σw)·ln V. That position's
//   hidden state is the zero vector whatever the adapter, so it adds a constant (uniform logits:
//   CE = ln V) and no gradient. Each micro-batch gets its own such position, so the window's
//   gradient is the plain sum of its micro-batches' (the trainer's gradWeights 1).
// - TRL takes log-probabilities of logits / temperature. logits = (rms(x)·w_norm)·E, so feeding
//   the final norm weight divided by the temperature makes the graph's CE that of logits / T.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import type { PromptFormat } from '../model/prompt.ts';
import * as names from '../model/qwen3/names.ts';
import { buildTrainStep, TRAIN_STEP_DISABLED_OPTIMIZERS } from '../model/qwen3/train-step.ts';
import { loraSites } from '../model/tensors.ts';
import { lossPositions, makeBatch, type TrainBatch } from './batches.ts';
import { advantages, grpoTerms, type GrpoObjective, type GrpoSequence, type GrpoTerms } from './grpo.ts';
import type { GrpoSettings } from './grpo-config.ts';
import { f32, floats, type HostTensor, type Runtime, type Tensor } from './runtime.ts';
import { sequenceLogps } from './sequence-logps.ts';
import type { Qwen3Session } from './session.ts';
import { IM_END, type Qwen3Tokenizer, type TokenizedExample } from './tokenizer.ts';
import type { TrainConfig } from './train-config.ts';
import { batchInputs, type LoraTrainer, type StepOptions, type StepResult } from './trainer.ts';

const FINAL_NORM = 'model.norm.weight';

/** The prompts (queries), G completions per prompt and their rewards of one generation batch. */
export interface GrpoBatch {
  prompts: string[];
  completions: string[][];
  rewards: number[][];
}

/** A completion as the loss sees it: prompt and completion ids, where the completion starts, and whether it was cut at max_completion_length. */
export interface GrpoRow {
  example: TokenizedExample;
  prompt: number;
  truncated: boolean;
}

/** A completion's text as generation would leave it: its tokens and <|im_end|>, cut at maxTokens (then without the end). */
export function textRow(tokenizer: Qwen3Tokenizer, query: string, completion: string, format: PromptFormat, maxTokens: number): GrpoRow {
  const full = tokenizer.example(query, completion, format);
  const prompt = full.completionMask.indexOf(1);
  const truncated = full.ids.length - prompt > maxTokens;
  const ids = full.ids.slice(0, prompt + maxTokens);
  return { example: { ids, completionMask: full.completionMask.slice(0, ids.length) }, prompt, truncated };
}

/** A sampled completion (its ids without the stop token): with <|im_end|> when it stopped, cut when it ran out of tokens. */
export function sampledRow(promptIds: readonly number[], ids: readonly number[], finish: 'stop' | 'length'): GrpoRow {
  const completion = finish === 'stop' ? [...ids, IM_END] : [...ids];
  return { example: { ids: [...promptIds, ...completion], completionMask: [...promptIds.map(() => 0), ...completion.map(() => 1)] }, prompt: promptIds.length, truncated: finish === 'length' };
}

/** log softmax(logits / temperature)[token], in float64. */
export function tokenLogp(logits: Float32Array, token: number, temperature: number): number {
  let max = -Infinity;
  for (const z of logits) max = Math.max(max, z / temperature);
  let sum = 0;
  for (const z of logits) sum += Math.exp(z / temperature - max);
  return logits[token]! / temperature - max - Math.log(sum);
}

/** Log-probabilities of a row's completion tokens under the session's running adapter: one forward over the row (sequence-logps.ts). */
export const completionLogps = (session: Qwen3Session, row: GrpoRow, temperature: number): Promise<number[]> => sequenceLogps(session, row.example.ids, row.prompt, { temperature });

/** The objective a config and micro-batch size (training.batch_size) give. */
export const grpoObjective = (grpo: GrpoSettings, microBatch: number): GrpoObjective => ({
  lossType: grpo.lossType,
  beta: grpo.beta,
  biasCorrectionKl: grpo.useBiasCorrectionKl,
  maxCompletionLength: grpo.maxCompletionLength,
  microBatch,
});

/** The batch's completions as the loss sees them: tokenized, scored by policy and reference, and the objective's terms. */
export interface ScoredGrpoBatch {
  rows: GrpoRow[];
  advantages: number[][];
  sequences: GrpoSequence[];
  terms: GrpoTerms;
}

/** Rows (prompt-major, G per prompt) with their rewards and both policies' log-probabilities → the objective's terms. */
export function scoreRows(rows: GrpoRow[], rewards: readonly (readonly number[])[], logp: readonly (readonly number[])[], ref: readonly (readonly number[])[], grpo: GrpoSettings, microBatch: number): ScoredGrpoBatch {
  const adv = advantages(rewards, grpo.scaleRewards);
  const flat = adv.flat();
  const sequences: GrpoSequence[] = rows.map((r, k) => ({ advantage: flat[k]!, logp: logp[k]!, ref: ref[k]!, scored: !(r.truncated && grpo.maskTruncatedCompletions) }));
  return { rows, advantages: adv, sequences, terms: grpoTerms(sequences, grpoObjective(grpo, microBatch)) };
}

/** `batch` with at least one padding position past its scored ones (the dummy position of the module comment). */
function withSpareSlot(batch: TrainBatch): TrainBatch {
  if (batch.lossIndex.length > batch.tokens) return batch;
  const pad = Array.from({ length: lossPositions(batch.tokens + 1) - batch.lossIndex.length }, () => 0);
  return { ...batch, lossIndex: [...batch.lossIndex, ...pad], lossTarget: [...batch.lossTarget, ...pad], lossWeight: [...batch.lossWeight, ...pad] };
}

/**
 * The rows as train-step micro-batches of `microBatch` rows in order, each carrying the terms'
 * per-token weights (makeBatch lists a row's completion positions in order, so they line up) and
 * 1 − Σw at its spare position. maxLength buckets the lengths; no row may be longer.
 */
export function grpoTrainBatches(rows: readonly GrpoRow[], weights: readonly (readonly number[])[], microBatch: number, maxLength: number): TrainBatch[] {
  const batches: TrainBatch[] = [];
  for (let start = 0; start < rows.length; start += microBatch) {
    const part = rows.slice(start, start + microBatch);
    const long = part.find((r) => r.example.ids.length > maxLength);
    if (long) throw new Error(`grpoTrainBatches: a row of ${long.example.ids.length} tokens is longer than max_length ${maxLength}`);
    const batch = withSpareSlot(makeBatch(part.map((r) => r.example), { maxLength, lossOn: 'completion' }));
    const w = weights.slice(start, start + microBatch).flat();
    const tokenWeights = Array.from({ length: batch.lossIndex.length }, (_, n) => (n < w.length ? w[n]! : 0));
    tokenWeights[batch.tokens] = 1 - w.reduce((a, b) => a + b, 0);
    batches.push({ ...batch, tokenWeights });
  }
  return batches;
}

/**
 * The run's optimizer step on a window's scored completions: the terms' weights in micro-batches
 * of training.batch_size rows, their gradients summed (each already normalised over the window).
 */
export function grpoUpdate(trainer: LoraTrainer, scored: ScoredGrpoBatch, training: TrainConfig['training'], lr: number, options: Omit<StepOptions, 'gradWeights'> = {}): Promise<StepResult> {
  const batches = grpoTrainBatches(scored.rows, scored.terms.weights, training.batchSize, training.maxLength);
  return trainer.step(batches, lr, { ...options, gradWeights: batches.map(() => 1) });
}

/** The final norm weight divided by `temperature` (float32 in every layout: layout.ts). */
async function scaledFinalNorm(runtime: Runtime, session: Qwen3Session, temperature: number): Promise<HostTensor> {
  const norm = await runtime.download(session.weights.get(FINAL_NORM)!);
  if (norm.type === 'float32') return f32(norm.dims, (norm.data as Float32Array).map((v) => v / temperature));
  throw new Error(`grpo: ${FINAL_NORM} is ${norm.type} on the device; float32 expected`);
}

/** The session's weights as the train step reads them for GRPO: the same tensors, the final norm / temperature (release() frees that one). */
export async function policyWeights(runtime: Runtime, session: Qwen3Session, temperature: number): Promise<{ weights: Map<string, Tensor>; release: () => void }> {
  const norm = await runtime.upload(await scaledFinalNorm(runtime, session, temperature));
  const weights = new Map<string, Tensor>(session.weights);
  weights.set(FINAL_NORM, norm);
  return { weights, release: () => runtime.release(norm) };
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

/** The forward passes and the objective of a step (no gradient): what a finite-difference check differentiates. */
export async function scoreGrpoBatch(batch: GrpoBatch, o: GrpoStepOptions): Promise<ScoredGrpoBatch> {
  const { session, grpo } = o;
  const rows = batch.prompts.flatMap((query, p) => batch.completions[p]!.map((completion) => textRow(o.tokenizer, query, completion, o.format, grpo.maxCompletionLength)));
  await session.setAdapter(o.policy);
  const logp: number[][] = [];
  for (const r of rows) logp.push(await completionLogps(session, r, grpo.temperature));
  await session.setAdapter(null); // the reference: the adapter disabled
  const ref: number[][] = [];
  for (const r of rows) ref.push(await completionLogps(session, r, grpo.temperature));
  return scoreRows(rows, batch.rewards, logp, ref, grpo, o.microBatch);
}

export async function grpoStep(batch: GrpoBatch, o: GrpoStepOptions): Promise<GrpoStepResult> {
  const { runtime, session, grpo } = o;
  const model: Qwen3Config = session.config;
  const scored = await scoreGrpoBatch(batch, o);
  const { rows, advantages: adv, terms } = scored;

  // The whole window as one batch: the same gradient as the run's micro-batches (each one's spare position adds none).
  const longest = Math.max(...rows.map((r) => r.example.ids.length));
  const [train] = grpoTrainBatches(rows, terms.weights, rows.length, longest) as [TrainBatch];
  const dummy = train.tokenWeights![train.tokens]!;

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
  const weights = await policyWeights(runtime, session, grpo.temperature);
  try {
    const feeds: Record<string, Tensor> = { ...batchInputs(model, train, session.layout), [names.LORA_SCALE]: f32([], [loraScale(lora)]) };
    for (const [name, t] of weights.weights) feeds[name] = t;
    for (const p of params) feeds[p.name] = p.tensor;
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
    weights.release();
    await step.release();
  }
}
