// An eval result = the (query, expansion) pairs of one run plus their scores. Scores are
// always computed here from the pairs, whatever the origin (a run, a Python file, a link),
// so a stored number always means what our scorer says it means.
import { newId, type EvalResult, type GenerationSettings, type ModelDescription, type ResultItem } from '../data/db.ts';
import { scoreBoth } from '../scoring/index.ts';
import { timeSlices } from '../slices.ts';

export interface ExpansionPair {
  query: string;
  expansion: string;
}

export interface NewResult {
  name: string;
  model: ModelDescription;
  profile: EvalResult['profile'];
  settings: GenerationSettings | null;
  pairs: ExpansionPair[];
  origin: EvalResult['origin'];
}

export function scoreItem({ query, expansion }: ExpansionPair): ResultItem {
  const scores = scoreBoth(query, expansion);
  return { query, expansion, eval: scores.eval, reward: scores.reward };
}

function resultOf({ name, model, profile, settings, origin }: NewResult, items: ResultItem[]): EvalResult {
  return { id: newId(), name, created: Date.now(), model, profile, settings, items, origin };
}

/** A result of pairs this page made itself (a run's generations): scored at once. */
export function makeResult(fields: NewResult): EvalResult {
  return resultOf(fields, fields.pairs.map(scoreItem));
}

/**
 * A result of untrusted pairs (a link, a file): scored a slice at a time (slices.ts), so however
 * many pairs arrive the page stays responsive; `signal` stops it between pairs.
 */
export async function scoreUntrusted(fields: NewResult, signal?: AbortSignal): Promise<EvalResult> {
  const pause = timeSlices(signal);
  const items: ResultItem[] = [];
  for (const pair of fields.pairs) {
    await pause();
    items.push(scoreItem(pair));
  }
  return resultOf(fields, items);
}
