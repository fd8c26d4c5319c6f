// Log-probabilities of a sequence's tokens under a session's running adapter (or its base model)
// from one forward over the sequence (score-graph.ts), not one decode step per token. The graph
// of each kind (base, adapter) is built once and kept with the session, T and N symbolic; it
// reads the session's weights and the running adapter's inputs as they are on the device, and
// leaves the KV cache alone.
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import * as names from '../model/qwen3/names.ts';
import { buildSequenceScorer } from '../model/qwen3/score-graph.ts';
import { vocabularyInputs } from '../model/qwen3/train-step.ts';
import { f32, floats, hostFeeds, i64, type Tensor } from './runtime.ts';
import type { Qwen3Session } from './session.ts';

export interface SequenceLogpOptions {
  /** Log-probabilities of logits / temperature (default 1). */
  temperature?: number;
}

/**
 * log softmax(logits / T)[ids[t]] for every t ≥ `from`, the logits those of position t − 1 given
 * ids[0..t): what the decoder's forward over ids[0..t) followed by the last position's log softmax
 * gives, in one run. Each run scores at most hidden-size positions, so that no logits buffer
 * [N, V_k] outgrows the LM-head chunk [D, V_k] the layout fitted to one binding; a sequence
 * with more scored tokens takes one run per that many.
 */
export async function sequenceLogps(session: Qwen3Session, ids: readonly number[], from: number, options: SequenceLogpOptions = {}): Promise<number[]> {
  if (!Number.isInteger(from) || from < 1 || from >= ids.length) {
    throw new Error(`sequenceLogps: from ${from} should be an integer in [1, ${ids.length}) — the first scored token of a sequence of ${ids.length}, after at least one token`);
  }
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`sequenceLogps: temperature ${temperature} should be a finite number > 0`);
  const { config, layout } = session;
  const { kind, lora } = session.running;
  const graph = await session.graphFor(`${kind} score`, () => buildSequenceScorer(config, { layout, lora: kind === 'adapter' }));
  const logps: number[] = [];
  for (let start = from; start < ids.length; start += config.hiddenSize) {
    const end = Math.min(ids.length, start + config.hiddenSize); // scores ids[start, end)
    const T = end - 1; // the last scored token is a target only
    const positions = Array.from({ length: end - start }, (_, n) => start - 1 + n);
    const { cos, sin } = ropeTables(
      Array.from({ length: T }, (_, t) => t),
      config.headDim,
      config.ropeTheta,
    );
    const feeds: Record<string, Tensor> = {
      ...lora,
      [names.ROPE_COS]: f32([T, config.headDim], cos),
      [names.ROPE_SIN]: f32([T, config.headDim], sin),
      [names.ATTN_BIAS]: f32([T, T], causalBias(0, T)),
      [names.SCORE_POSITIONS]: i64([positions.length], positions),
      [names.INVERSE_TEMPERATURE]: f32([], [1 / temperature]),
    };
    Object.assign(feeds, hostFeeds(vocabularyInputs(config, layout, 1, T, ids.slice(0, T), ids.slice(start, end))));
    for (const [name, t] of session.weights) feeds[name] = t;
    const out = await graph.run(feeds, [names.TARGET_LOGP]);
    logps.push(...floats(out[names.TARGET_LOGP], names.TARGET_LOGP));
  }
  return logps;
}
