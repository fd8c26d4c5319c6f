export type * from './types.ts';
export type { BothScores } from './both.ts';
export type { Explanation, ExplainedLine, CategoryBar } from './explain.ts';
export { parseExpansion } from './parse.ts';
export { scoreEval } from './eval.ts';
export { scoreReward } from './reward.ts';
export { namedEntities } from './entities.ts';
export { scoreBoth } from './both.ts';
export { explain } from './explain.ts';
