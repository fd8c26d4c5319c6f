// The generation half of a GRPO step: which prompts a step takes (the job's list in an order
// shuffled per epoch by the seed, as SFT orders its rows), G completions sampled for each with the
// adapter being trained — each token's log-probability under that policy taken from the logits it
// was sampled from, so no second policy pass is needed — and each completion's reward.
import { promptFormat } from '../model/prompt.ts';
import { hashInts, shuffled } from '../random.ts';
import { ScoringLimitError, scoreBoth } from '../scoring/index.ts';
import { generate, type Decoder } from './generate.ts';
import type { GrpoRewardWeights, GrpoSettings } from './grpo-config.ts';
import { sampledRow, tokenLogp, type GrpoRow } from './grpo-step.ts';
import { stripThink, type SamplingOptions } from './sampling.ts';
import type { Qwen3Session } from './session.ts';
import { IM_END, type Qwen3Tokenizer } from './tokenizer.ts';

/** A prompt of a run: a query (a dataset row's or a query set's), with the row's intent and line when it has them. */
export interface GrpoPrompt {
  query: string;
  intent?: string;
  line?: number;
}

/** What a completion's reward is made of (GrpoCompletion's fields). */
export interface GrpoScore {
  rewardScore: number | null;
  evalScore: number | null;
  hardFail: boolean;
  refused?: string;
}

/** Scores a query's completion; runs default to QMD's two profiles (qmdScore). */
export type GrpoScorer = (query: string, text: string) => GrpoScore;

/** QMD's reward profile (0–1, 0 on a format hard fail) and eval profile (0–100); a pair the scorers refuse (limits.ts) is a hard fail. */
export function qmdScore(query: string, text: string): GrpoScore {
  try {
    const { reward, eval: evaluation } = scoreBoth(query, text);
    return { rewardScore: reward.reward, evalScore: evaluation.percentage, hardFail: 'hard_fail' in reward };
  } catch (error) {
    if (error instanceof ScoringLimitError) return { rewardScore: null, evalScore: null, hardFail: true, refused: error.message };
    throw error;
  }
}

/** The reward the advantage is computed from: the weighted profiles; a hard fail is 0 whatever the eval profile says (QMD's hard zero for a wrong format). */
export const weightedReward = (s: GrpoScore, w: GrpoRewardWeights): number => (s.hardFail ? 0 : w.reward * (s.rewardScore ?? 0) + w.eval * ((s.evalScore ?? 0) / 100));

/** The indices into the prompt list of step `step`'s (0-based) `perStep` prompts: a stream of epochs, each the list in the order shuffled by (seed + epoch). */
export function stepPrompts(prompts: number, perStep: number, step: number, seed: number): number[] {
  const orders = new Map<number, number[]>();
  return Array.from({ length: perStep }, (_, k) => {
    const i = step * perStep + k;
    const epoch = Math.floor(i / prompts);
    if (!orders.has(epoch)) orders.set(epoch, shuffled(prompts, seed + epoch));
    return orders.get(epoch)![i % prompts]!;
  });
}

/** A stop asked for while sampling: the step is discarded. */
export class RolloutCancelled extends Error {
  constructor() {
    super('sampling was cancelled');
    this.name = 'RolloutCancelled';
  }
}

/** One sampled completion: as the loss sees it, its policy log-probabilities, and its decoded text (a leading <think> block removed). */
export interface Rollout {
  row: GrpoRow;
  logp: number[];
  text: string;
}

export interface RolloutOptions {
  grpo: GrpoSettings;
  /** training.seed: with the step, prompt and generation it keys each completion's sampling. */
  seed: number;
  /** 0-based step, and the prompt's index among the step's. */
  step: number;
  prompt: number;
  /** Asked before each completion and decode step: true ends sampling (RolloutCancelled). */
  stop?: () => boolean;
  /** Told as each completion (0-based among the prompt's) starts. */
  onCompletion?: (generation: number) => void;
}

/**
 * G completions of `promptIds` sampled with the session's current adapter (the policy), until
 * <|im_end|> or max_completion_length tokens. Each completion's generator is seeded by (seed, step,
 * prompt, generation), so a resumed run samples what the uninterrupted one did.
 */
export async function sampleGroup(session: Qwen3Session, tokenizer: Qwen3Tokenizer, promptIds: readonly number[], o: RolloutOptions): Promise<Rollout[]> {
  const { grpo } = o;
  const stop = o.stop ?? (() => false);
  let logits: Float32Array | null = null;
  const decoder: Decoder = {
    forward: async (ids) => {
      if (stop()) throw new RolloutCancelled();
      return (logits = await session.forward(ids));
    },
    reset: () => session.reset(),
  };
  const group: Rollout[] = [];
  for (let g = 0; g < grpo.numGenerations; g++) {
    if (stop()) throw new RolloutCancelled();
    o.onCompletion?.(g);
    const sampling: SamplingOptions = {
      greedy: false,
      temperature: grpo.temperature,
      topK: grpo.topK,
      topP: grpo.topP,
      seed: hashInts(o.seed, o.step, o.prompt, g),
      maxNewTokens: grpo.maxCompletionLength,
      stopTokens: [IM_END],
    };
    const logp: number[] = [];
    // onToken is told each token before the next forward: `logits` are still those it was sampled from.
    const generation = await generate(decoder, promptIds, sampling, (id) => logp.push(tokenLogp(logits!, id, grpo.temperature)));
    if (generation.finish === 'stop') logp.push(tokenLogp(logits!, IM_END, grpo.temperature));
    group.push({ row: sampledRow(promptIds, generation.ids, generation.finish), logp, text: stripThink(tokenizer.decode(generation.ids)).trim() });
  }
  await session.reset();
  return group;
}

/** The prompts' token ids in the run's prompt format (a row's intent as that format renders it). */
export function promptIdsOf(prompts: readonly GrpoPrompt[], tokenizer: Qwen3Tokenizer, format: string): number[][] {
  const f = promptFormat(format, 'the training settings (prompt_format)');
  return prompts.map((p) => tokenizer.promptIds(p.query, f, p.intent));
}
