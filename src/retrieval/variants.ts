// The variants of a retrieval eval that a model expands for: each chosen variant (the base
// model, an adapter) writes one expansion per distinct query through the engine, exactly as an
// expansion eval run does (src/app/eval-run.ts), and its expansions become a RetrievalVariant.
import { runEval, type EvalOutput, type EvalVariant, type GenerateClient, type RunOptions } from '../app/eval-run.ts';
import type { SamplingRequest } from '../engine/protocol.ts';
import type { RetrievalVariant } from './eval.ts';

export const NO_EXPANSION: RetrievalVariant = { label: 'no expansion', expansions: null };

export interface ExpandedVariants {
  variants: RetrievalVariant[];
  /** The run's outputs, one per variant (what the saved results are made of). */
  outputs: EvalOutput[];
}

export async function expandedVariants(
  client: GenerateClient,
  queries: readonly string[],
  variants: readonly EvalVariant[],
  sampling: SamplingRequest,
  options: RunOptions = {},
): Promise<ExpandedVariants> {
  if (variants.length === 0) return { variants: [], outputs: [] };
  const plan = { queries: [...new Set(queries)], variants, sampling, samplesPerQuery: 1 };
  const outputs = await runEval(client, plan, options);
  return { variants: outputs.map((o) => ({ label: o.variant.label, expansions: new Map(o.pairs.map((p) => [p.query, p.expansion])) })), outputs };
}
