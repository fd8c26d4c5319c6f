// Profile `eval`: the report score in percent, with a deduction string for each lost point
// (spec/scoring.md, "Profile eval"). Deductions keep the order the steps produce them.
import type { EvalScore, Parsed, Rating } from './types.ts';
import { parseExpansion, startsWithPrefix } from './parse.ts';
import {
  EVAL_STOP, HYDE_MAX_LENGTH, HYDE_MIN_LENGTH, MIN_DIFFERENT_WORDS, duplicates, echoes, isNatural, keyTerms,
  meanLength, preservesKeyTerms, repetitionPenalty,
} from './rules.ts';
import { MAX_LISTED_PAIRS, checkScorable } from './limits.ts';
import { cpLength, cpSlice } from './text.ts';

export const CONTINUATION_DEDUCTION = 'CONTINUATION DETECTED - output does not start with lex:/vec:/hyde:';

function formatPoints(p: Parsed, deductions: string[]): number {
  let points = 0;
  if (p.lex.length > 0) points += 10;
  else deductions.push('missing lex: (-10)');
  if (p.vec.length > 0) points += 10;
  else deductions.push('missing vec: (-10)');
  const n = p.invalid.length;
  if (n === 0) points += 10;
  else {
    const penalty = Math.min(10, 5 * n);
    points += 10 - penalty;
    deductions.push(`${n} invalid lines (-${penalty})`);
  }
  return Math.max(0, points);
}

function pairPoints(lines: string[], kind: 'lex' | 'vec', deductions: string[]): number {
  const found = duplicates(lines, MIN_DIFFERENT_WORDS[kind], MAX_LISTED_PAIRS);
  for (const [i, j] of found.listed) {
    deductions.push(`${kind} duplicates: '${cpSlice(lines[i]!, 20)}...' ~ '${cpSlice(lines[j]!, 20)}...'`);
  }
  // Python lists every pair; past the cap one line stands for the rest (the points are the same).
  const unlisted = found.count - found.listed.length;
  if (unlisted > 0) deductions.push(`${kind} duplicates: ${unlisted.toLocaleString('en-US')} more pairs not listed`);
  return Math.max(0, 5 - 2 * found.count);
}

function diversityPoints(p: Parsed, query: string, deductions: string[]): number {
  let points = 0;
  if (p.lex.length > 0 && p.vec.length > 0) points += 10;
  else deductions.push('only one type present (-10)');
  if (p.lex.length + p.vec.length >= 2) points += 5;
  else deductions.push('fewer than 2 expansions (-5)');
  points += pairPoints(p.lex, 'lex', deductions);
  points += pairPoints(p.vec, 'vec', deductions);
  let echo = 5;
  for (const line of [...p.lex, ...p.vec]) {
    if (echoes(line, query)) {
      echo -= 5;
      deductions.push(`echoes query: '${cpSlice(line, 30)}...'`);
    }
  }
  points += Math.max(0, echo);
  return Math.max(0, points);
}

function hydePoints(p: Parsed, deductions: string[]): number {
  const hyde = p.hyde[0];
  if (hyde === undefined) return 0;
  let points = 5;
  const length = cpLength(hyde);
  if (length < HYDE_MIN_LENGTH) {
    points += 2;
    deductions.push(`hyde too short (${length} chars)`);
  } else if (length > HYDE_MAX_LENGTH) deductions.push(`hyde too long (${length} chars)`);
  else points += 5;
  if (!hyde.includes('\n')) points += 5;
  else deductions.push('hyde contains newlines');
  const repetition = repetitionPenalty(hyde);
  if (repetition === 0) points += 5;
  else {
    points += Math.max(0, 5 - repetition);
    deductions.push(`hyde repetition penalty (-${Math.min(5, repetition)})`);
  }
  return points;
}

function qualityPoints(p: Parsed, query: string, deductions: string[]): number {
  let points = 10;
  if (p.lex.length > 0 && p.vec.length > 0) {
    if (meanLength(p.lex) <= meanLength(p.vec)) points += 5;
    else deductions.push('lex longer than vec (should be keywords)');
  } else points += 2;
  if (p.vec.length > 0) {
    if (p.vec.every(isNatural)) points += 5;
    else {
      points += 2;
      deductions.push('some vec lines too short/keyword-like');
    }
  }
  if (p.lex.length > 0) {
    const terms = keyTerms(query, EVAL_STOP);
    const keeping = p.lex.filter((line) => preservesKeyTerms(line, terms)).length;
    if (keeping === p.lex.length) points += 5;
    else if (keeping > 0) points += 2;
    else deductions.push('lex lines too generic - missing key terms from query');
  }
  return Math.min(20, points);
}

function rating(percentage: number): Rating {
  if (percentage >= 80) return 'Excellent';
  if (percentage >= 60) return 'Good';
  if (percentage >= 40) return 'Acceptable';
  if (percentage >= 20) return 'Poor';
  return 'Failed';
}

export function scoreEval(query: string, expansion: string): EvalScore {
  checkScorable(query, expansion);
  if (!startsWithPrefix(expansion)) {
    return {
      format: 0, diversity: 0, hyde: 0, quality: 0,
      deductions: [CONTINUATION_DEDUCTION],
      total: 0, max_possible: 80, percentage: 0, rating: 'Failed',
      parsed: { lex: [], vec: [], hyde: [], invalid: [cpSlice(expansion, 100)] },
      is_continuation: true,
    };
  }
  const parsed = parseExpansion(expansion);
  const deductions: string[] = [];
  const format = formatPoints(parsed, deductions);
  const diversity = diversityPoints(parsed, query, deductions);
  const hyde = hydePoints(parsed, deductions);
  const quality = qualityPoints(parsed, query, deductions);
  const total = format + diversity + hyde + quality;
  const max_possible = parsed.hyde.length > 0 ? 100 : 80;
  const percentage = (total / max_possible) * 100;
  return {
    format, diversity, hyde, quality, deductions, total, max_possible, percentage,
    rating: rating(percentage), parsed, is_continuation: false,
  };
}
