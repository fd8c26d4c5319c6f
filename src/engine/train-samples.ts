// Samples during a training run: after every M-th step, the first K validation queries expanded
// greedily by the adapter as trained so far, each scored with both of QMD's profiles — what the
// loss alone cannot say (whether the model now writes lex/vec/hyde lines the scorers like).
import type { LoraAdapter } from '../model/peft.ts';
import { promptFormat } from '../model/prompt.ts';
import { ScoringLimitError, scoreBoth } from '../scoring/index.ts';
import { expand, type Decoder } from './generate.ts';
import type { StepSamples, TrainRow, TrainSample } from './protocol.ts';
import { defaultSampling, type SamplingOptions } from './sampling.ts';
import type { Qwen3Session } from './session.ts';
import type { Qwen3Tokenizer } from './tokenizer.ts';

/**
 * Greedy, so that a sample depends on the adapter alone and two steps' samples differ only by what
 * training changed. 128 new tokens: QMD's training completions take 46–84 tokens (p10–p99; at most
 * 99 of the first 2,000 rows of qmd_expansion.jsonl), so a trained adapter finishes every expansion
 * (it stops at <|im_end|>), while an untrained one that never stops costs at most 128 decode steps
 * per query. A budget under a whole expansion would cut off the last lines and mark the score down.
 */
export const SAMPLE_SAMPLING: SamplingOptions = { ...defaultSampling, greedy: true, maxNewTokens: 128 };

/** A stop asked for while sampling: the step keeps no samples. */
export class SamplingCancelled extends Error {
  constructor() {
    super('sampling was cancelled');
    this.name = 'SamplingCancelled';
  }
}

/** The rows whose queries a run samples: the first `queries` of its validation part. */
export const sampleRows = (validation: readonly TrainRow[], queries: number): readonly TrainRow[] => validation.slice(0, queries);

/** A query and its expansion with both scores; a pair the scorers refuse (limits.ts) keeps why, without scores. */
export function scoreSample(query: string, expansion: string): TrainSample {
  try {
    const { reward, eval: evaluation } = scoreBoth(query, expansion);
    return { query, expansion, reward: reward.reward, eval: evaluation.percentage };
  } catch (error) {
    if (error instanceof ScoringLimitError) return { query, expansion, reward: null, eval: null, refused: error.message };
    throw error;
  }
}

/** The mean of each profile over the samples the scorers accepted (null when they refused every one). */
export function stepSamples(items: TrainSample[]): StepSamples {
  const scored = items.filter((s) => s.refused === undefined);
  const mean = (of: (s: TrainSample) => number | null) => (scored.length === 0 ? null : scored.reduce((sum, s) => sum + of(s)!, 0) / scored.length);
  return { reward: mean((s) => s.reward), eval: mean((s) => s.eval), items };
}

export interface SampleOptions {
  /** The run's prompt format id (TrainConfig.promptFormat), in which training renders the same rows. */
  format: string;
  /** Asked before each query and each decode step: true ends sampling (SamplingCancelled). */
  stop?: () => boolean;
  /** Told as each query (1-based) starts. */
  onQuery?: (index: number, of: number) => void;
}

/**
 * Expands `rows` with `adapter` on `session` and scores each expansion. The adapter is uploaded to
 * the session's own slot (setAdapter) for the pass and released after it: the session then runs the
 * base model, whatever it ran before.
 */
export async function sampleAdapter(session: Qwen3Session, tokenizer: Qwen3Tokenizer, adapter: LoraAdapter, rows: readonly TrainRow[], options: SampleOptions): Promise<StepSamples> {
  const format = promptFormat(options.format, 'the training settings (prompt_format)');
  const stop = options.stop ?? (() => false);
  const check = () => {
    if (stop()) throw new SamplingCancelled();
  };
  // Samples are greedy (SAMPLE_SAMPLING): each step's argmax is made on the device.
  const decoder: Decoder = {
    forward: (ids) => (check(), session.forward(ids)),
    forwardGreedy: (ids) => (check(), session.forwardGreedy(ids)),
    reset: () => session.reset(),
  };
  await session.setAdapter(adapter);
  try {
    const items: TrainSample[] = [];
    for (const [i, row] of rows.entries()) {
      if (stop()) throw new SamplingCancelled();
      options.onQuery?.(i + 1, rows.length);
      const { text } = await expand(decoder, tokenizer, row.query, SAMPLE_SAMPLING, format, row.intent);
      items.push(scoreSample(row.query, text));
    }
    return stepSamples(items);
  } finally {
    await session.setAdapter(null);
  }
}
