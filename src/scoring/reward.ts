// Profile `reward`: the GRPO reward in [0, 1] (spec/scoring.md, "Profile reward").
// Each category also says why it lost points, so the UI can explain a reward the way the
// eval profile explains itself with deductions; the points never depend on that wording.
import type { Parsed, RewardBreakdown, RewardScore } from './types.ts';
import { parseExpansion, startsWithPrefix } from './parse.ts';
import { isGeneric, mentionsEntity, namedEntities } from './entities.ts';
import {
  HYDE_MAX_LENGTH, HYDE_MIN_LENGTH, KEY_STOP, MIN_DIFFERENT_WORDS, duplicates, echoes, isNatural, keyTerms,
  meanLength, preservesKeyTerms, repetitionPenalty,
} from './rules.ts';
import { cpLength } from './text.ts';
import { checkScorable } from './limits.ts';

export type RewardCategoryName = 'format' | 'diversity' | 'hyde' | 'quality' | 'entity';

export interface RewardCategory {
  name: RewardCategoryName;
  points: number;
  max: number;
  /** One note per lost point group, e.g. "lex line 2 is generic (-15)"; their losses sum to max - points. */
  lost: string[];
}

/** Names lines by their 1-based number within their kind, for notes such as "vec lines 1, 3". */
function lineList(kind: string, numbers: number[]): string {
  return `${kind} line${numbers.length > 1 ? 's' : ''} ${numbers.join(', ')}`;
}

function formatCategory(p: Parsed): RewardCategory {
  const lost: string[] = [];
  if (p.lex.length === 0) lost.push('no lex line (-10)');
  if (p.vec.length === 0) lost.push('no vec line (-10)');
  const penalty = Math.min(10, 5 * p.invalid.length);
  if (penalty > 0) lost.push(`${p.invalid.length} line(s) without a lex:/vec:/hyde: prefix (-${penalty})`);
  const points = (p.lex.length > 0 ? 10 : 0) + (p.vec.length > 0 ? 10 : 0) + 10 - penalty;
  return { name: 'format', points, max: 30, lost };
}

/** Spends a budget of `budget` points, `step` per offence; returns what is left (never below 0). */
function spend(budget: number, step: number, offences: string[], lost: string[]): number {
  for (const offence of offences) {
    const cost = Math.min(step, budget);
    if (cost > 0) lost.push(`${offence} (-${cost})`);
    budget -= cost;
  }
  return budget;
}

function diversityCategory(p: Parsed, query: string): RewardCategory {
  const lost: string[] = [];
  let points = 0;
  if (p.lex.length > 0 && p.vec.length > 0) points += 10;
  else lost.push('only one of lex and vec present (-10)');
  if (p.lex.length + p.vec.length >= 2) points += 5;
  else lost.push('fewer than 2 lex/vec lines (-5)');
  for (const kind of ['lex', 'vec'] as const) {
    // Three pairs spend the whole budget: later ones are never named.
    const pairs = duplicates(p[kind], MIN_DIFFERENT_WORDS[kind], 3).listed;
    points += spend(5, 2, pairs.map(([i, j]) => `${kind} lines ${i + 1} and ${j + 1} are near-duplicates`), lost);
  }
  const echoing = [
    ...p.lex.flatMap((line, i) => (echoes(line, query) ? [`lex line ${i + 1} echoes the query`] : [])),
    ...p.vec.flatMap((line, i) => (echoes(line, query) ? [`vec line ${i + 1} echoes the query`] : [])),
  ];
  points += spend(5, 3, echoing, lost);
  return { name: 'diversity', points, max: 30, lost };
}

function hydeCategory(p: Parsed): RewardCategory {
  const hyde = p.hyde[0];
  if (hyde === undefined) return { name: 'hyde', points: 0, max: 0, lost: [] };
  const lost: string[] = [];
  let points = 5;
  const length = cpLength(hyde);
  if (length < HYDE_MIN_LENGTH) {
    points += 2;
    lost.push(`hyde too short: ${length} chars, wants ${HYDE_MIN_LENGTH}-${HYDE_MAX_LENGTH} (-3)`);
  } else if (length > HYDE_MAX_LENGTH) {
    lost.push(`hyde too long: ${length} chars, wants ${HYDE_MIN_LENGTH}-${HYDE_MAX_LENGTH} (-5)`);
  } else points += 5;
  if (!hyde.includes('\n')) points += 5;
  else lost.push('hyde contains newlines (-5)');
  const repetition = Math.min(5, repetitionPenalty(hyde));
  points += 5 - repetition;
  if (repetition > 0) lost.push(`hyde repeats content words (-${repetition})`);
  return { name: 'hyde', points, max: 20, lost };
}

function qualityCategory(p: Parsed, query: string): RewardCategory {
  const lost: string[] = [];
  let points = 5;
  if (p.lex.length > 0 && p.vec.length > 0) {
    if (meanLength(p.lex) <= meanLength(p.vec)) points += 5;
    else lost.push('lex lines longer than vec lines on average; lex should be keywords (-5)');
  } else lost.push('lex and vec lengths cannot be compared without both (-5)');
  if (p.vec.length > 0) {
    const keywordLike = p.vec.flatMap((line, i) => (isNatural(line) ? [] : [i + 1]));
    if (keywordLike.length === 0) points += 5;
    else {
      points += 2;
      lost.push(`keyword-like, not a sentence: ${lineList('vec', keywordLike)} (-3)`);
    }
  } else lost.push('no vec line to read as a sentence (-5)');
  if (p.lex.length > 0) {
    const terms = keyTerms(query, KEY_STOP);
    const missing = p.lex.flatMap((line, i) => (preservesKeyTerms(line, terms) ? [] : [i + 1]));
    if (missing.length === 0) points += 5;
    else if (missing.length < p.lex.length) {
      points += 2;
      lost.push(`no key term of the query in ${lineList('lex', missing)} (-3)`);
    } else lost.push('no lex line keeps a key term of the query (-5)');
  } else lost.push('no lex line to keep the key terms (-5)');
  return { name: 'quality', points, max: 20, lost };
}

function entityCategory(p: Parsed, entities: readonly string[]): RewardCategory {
  const lost: string[] = [];
  if (entities.length === 0) {
    return { name: 'entity', points: 10, max: 20, lost: ['the query has no named entity: fixed 10 of 20 (-10)'] };
  }
  if (p.lex.length === 0) return { name: 'entity', points: 0, max: 20, lost: ['no lex line to carry the entities (-20)'] };
  let points: number;
  const mentioning = p.lex.filter((line) => mentionsEntity(line, entities)).length;
  if (mentioning === p.lex.length) points = 15;
  else if (mentioning > 0) {
    points = 5;
    lost.push(`only ${mentioning} of ${p.lex.length} lex lines name an entity (-10)`);
  } else {
    points = -30;
    lost.push('no lex line names an entity (-45)');
  }
  p.lex.forEach((line, i) => {
    if (isGeneric(line)) {
      points -= 15;
      lost.push(`lex line ${i + 1} is generic filler (-15)`);
    }
  });
  if (p.vec.some((line) => mentionsEntity(line, entities))) points += 5;
  else lost.push('no vec line names an entity (-5)');
  return { name: 'entity', points, max: 20, lost };
}

/** The five reward categories of an expansion that passed the hard-fail check. */
export function rewardCategories(query: string, parsed: Parsed, entities: readonly string[]): RewardCategory[] {
  return [
    formatCategory(parsed),
    diversityCategory(parsed, query),
    hydeCategory(parsed),
    qualityCategory(parsed, query),
    entityCategory(parsed, entities),
  ];
}

export function rewardFromCategories(categories: RewardCategory[], parsed: Parsed): RewardBreakdown {
  const [format, diversity, hyde, quality, entity] = categories.map((c) => c.points) as [
    number, number, number, number, number,
  ];
  const total = format + diversity + hyde + quality + entity;
  const max_possible = parsed.hyde.length > 0 ? 120 : 100;
  const reward = Math.min(1, Math.max(0, total / max_possible));
  return { format, diversity, hyde, quality, entity, total, max_possible, reward };
}

export function scoreRewardWith(query: string, expansion: string, entities: readonly string[]): RewardScore {
  checkScorable(query, expansion);
  if (!startsWithPrefix(expansion)) return { hard_fail: true, reward: 0 };
  const parsed = parseExpansion(expansion);
  return rewardFromCategories(rewardCategories(query, parsed, entities), parsed);
}

export function scoreReward(query: string, expansion: string): RewardScore {
  return scoreRewardWith(query, expansion, namedEntities(query));
}
