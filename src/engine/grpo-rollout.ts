// The generation half of a GRPO step: which prompts a step takes (the job's list in an order
// shuffled per epoch by the seed, as SFT orders its rows), G completions sampled for each with the
// adapter being trained — each token's log-probability under that policy taken from the logits it
// was sampled from, so no second policy pass is needed — and each completion's reward.
import { promptFormat } from '../model/prompt.ts';
import { hashInts, shuffled } from '../random.ts';
import { ScoringLimitError, scoreBoth } from '../scoring/index.ts';
import { Continuation } from './generate.ts';
import type { GrpoRewardWeights, GrpoSettings } from './grpo-config.ts';
import { sampledRow, tokenLogp, type GrpoRow } from './grpo-step.ts';
import { stripThink } from './sampling.ts';
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
  /** Asked before the group and each decode step: true ends sampling (RolloutCancelled). */
  stop?: () => boolean;
  /**
   * Told how many of the prompt's completions have ended, as the group starts (0) and as each
   * ends before the last: the 0-based index of the completion a one-at-a-time progress would show.
   */
  onCompletion?: (generation: number) => void;
}

/**
 * G completions of `promptIds` sampled with the session's current adapter (the policy), each until
 * <|im_end|> or max_completion_length tokens, all in one batch: one forward of G copies of the
 * prompt, then one [G, 1] decode step per position until every completion has ended (an ended one
 * is fed <|im_end|> and its logits ignored). Each completion's generator is seeded by (seed, step,
 * prompt, generation) and each token's log-probability read from the row's logits it was sampled
 * from, so a completion is what sampling it alone would give wherever the batch-G logits equal the
 * batch-1 ones (they can differ by float rounding), and a resumed run, which samples batched too,
 * samples what the uninterrupted one did.
 */
export async function sampleGroup(session: Pick<Qwen3Session, 'forwardRows' | 'reset'>, tokenizer: Qwen3Tokenizer, promptIds: readonly number[], o: RolloutOptions): Promise<Rollout[]> {
  const { grpo } = o;
  const stop = o.stop ?? (() => false);
  const rows = Array.from({ length: grpo.numGenerations }, (_, g) => ({
    sequence: new Continuation({
      greedy: false,
      temperature: grpo.temperature,
      topK: grpo.topK,
      topP: grpo.topP,
      seed: hashInts(o.seed, o.step, o.prompt, g),
      maxNewTokens: grpo.maxCompletionLength,
      stopTokens: [IM_END],
    }),
    logp: [] as number[],
  }));
  if (promptIds.length === 0) throw new Error('sampleGroup: the prompt has no tokens');
  if (stop()) throw new RolloutCancelled();
  o.onCompletion?.(0);
  await session.reset();
  let ended = 0;
  try {
    let logits = await session.forwardRows(rows.map(() => promptIds));
    for (;;) {
      const next = rows.map(({ sequence, logp }, g) => {
        if (sequence.finish) return IM_END;
        const id = sequence.take(logits[g]!);
        logp.push(tokenLogp(logits[g]!, id, grpo.temperature));
        if (sequence.finish && ++ended < rows.length) o.onCompletion?.(ended);
        return id;
      });
      if (ended === rows.length) break;
      if (stop()) throw new RolloutCancelled();
      logits = await session.forwardRows(next.map((id) => [id]));
    }
  } finally {
    await session.reset();
  }
  return rows.map(({ sequence, logp }) => ({
    row: sampledRow(promptIds, sequence.ids, sequence.finish!),
    logp,
    text: stripThink(tokenizer.decode(sequence.ids)).trim(),
  }));
}

/** The prompts' token ids in the run's prompt format (a row's intent as that format renders it). */
export function promptIdsOf(prompts: readonly GrpoPrompt[], tokenizer: Qwen3Tokenizer, format: string): number[][] {
  const f = promptFormat(format, 'the training settings (prompt_format)');
  return prompts.map((p) => tokenizer.promptIds(p.query, f, p.intent));
}
