// An eval result = the (query, expansion) pairs of one run plus their scores. Scores are
// always computed here from the pairs, whatever the origin (a run, a Python file, a link),
// so a stored number always means what our scorer says it means.
import { newId, type EvalResult, type GenerationSettings, type ModelDescription, type ResultItem } from '../data/db.ts';
import { scoreBoth } from '../scoring/index.ts';

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

export function makeResult({ name, model, profile, settings, pairs, origin }: NewResult): EvalResult {
  return {
    id: newId(),
    name,
    created: Date.now(),
    model,
    profile,
    settings,
    items: pairs.map(scoreItem),
    origin,
  };
}
