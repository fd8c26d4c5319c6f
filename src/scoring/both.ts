// Both profiles for one query/expansion pair, sharing the entity extraction.
import type { EvalScore, RewardScore } from './types.ts';
import { namedEntities } from './entities.ts';
import { scoreEval } from './eval.ts';
import { scoreRewardWith } from './reward.ts';
import { checkScorable } from './limits.ts';

export interface BothScores {
  eval: EvalScore;
  reward: RewardScore;
  entities: string[];
}

export function scoreBoth(query: string, expansion: string): BothScores {
  checkScorable(query, expansion);
  const entities = namedEntities(query);
  return { eval: scoreEval(query, expansion), reward: scoreRewardWith(query, expansion, entities), entities };
}
