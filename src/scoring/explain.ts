// Plain data for the playground: both profiles side by side, with every line marked the way the
// scorers saw it (echo, generic, duplicates, entity mentions) and every lost reward point explained.
import type { EvalScore, Parsed, RewardScore } from './types.ts';
import { expansionLines, parseExpansion, startsWithPrefix, type LineKind } from './parse.ts';
import { isGeneric, namedEntities } from './entities.ts';
import { scoreEval } from './eval.ts';
import { rewardCategories, rewardFromCategories } from './reward.ts';
import { MIN_DIFFERENT_WORDS, duplicates, echoes } from './rules.ts';
import { MAX_LISTED_PAIRS, checkScorable } from './limits.ts';

export interface ExplainedLine {
  kind: LineKind | 'invalid';
  /** 1-based position among the lines of its kind, as notes cite it ("lex line 2"). */
  number: number;
  /** The line without its prefix, stripped. */
  text: string;
  /** A lex/vec line that merely repeats the query. */
  echo: boolean;
  /** A lex line that is only filler ("search for ..."); costs 15 reward points when the query has entities. */
  generic: boolean;
  /** [start, end) UTF-16 offsets into `text` of each entity mention, sorted and merged. */
  entitySpans: [number, number][];
  /** Indices into `lines` of the first (at most MAX_LISTED_PAIRS) earlier lines of the same kind this one is not diverse from. */
  duplicateOf: number[];
  /** How many earlier lines of its kind this one is not diverse from, listed or not. */
  duplicates: number;
}

export interface CategoryBar {
  name: string;
  points: number;
  max: number;
}

export interface Explanation {
  lines: ExplainedLine[];
  entities: string[];
  eval: EvalScore;
  reward: RewardScore;
  categories: { eval: CategoryBar[]; reward: CategoryBar[] };
  /** Each lost reward point, e.g. "entity: lex line 2 is generic filler (-15)". */
  rewardNotes: string[];
}

/** Where the entities occur in `text`; matched case-insensitively as the scorer does, mapped back to `text`. */
function entitySpans(text: string, entities: readonly string[]): [number, number][] {
  let lowered = '';
  const from: number[] = [];
  const to: number[] = [];
  let offset = 0;
  for (const ch of text) {
    const l = ch.toLowerCase();
    for (let k = 0; k < l.length; k++) {
      from.push(offset);
      to.push(offset + ch.length);
    }
    lowered += l;
    offset += ch.length;
  }
  const spans: [number, number][] = [];
  for (const entity of entities) {
    for (let at = lowered.indexOf(entity); at >= 0; at = lowered.indexOf(entity, at + 1)) {
      spans.push([from[at]!, to[at + entity.length - 1]!]);
    }
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([span[0], span[1]]);
  }
  return merged;
}

function explainLines(query: string, expansion: string, entities: readonly string[]): ExplainedLine[] {
  const counts = { lex: 0, vec: 0, hyde: 0, invalid: 0 };
  const lines: ExplainedLine[] = expansionLines(expansion).map(({ kind, text }) => {
    const k = kind ?? 'invalid';
    const searchable = k === 'lex' || k === 'vec';
    return {
      kind: k,
      number: ++counts[k],
      text,
      echo: searchable && echoes(text, query),
      generic: k === 'lex' && isGeneric(text),
      entitySpans: entitySpans(text, entities),
      duplicateOf: [],
      duplicates: 0,
    };
  });
  for (const kind of ['lex', 'vec'] as const) {
    const positions = lines.flatMap((line, i) => (line.kind === kind ? [i] : []));
    const texts = positions.map((i) => lines[i]!.text);
    const found = duplicates(texts, MIN_DIFFERENT_WORDS[kind], 0);
    for (let b = 0; b < texts.length; b++) {
      const line = lines[positions[b]!]!;
      for (let a = 0; a < b; a++) {
        if (!found.isDuplicate(a, b)) continue;
        line.duplicates++;
        if (line.duplicateOf.length < MAX_LISTED_PAIRS) line.duplicateOf.push(positions[a]!);
      }
    }
  }
  return lines;
}

function evalBars(score: EvalScore, hasHyde: boolean): CategoryBar[] {
  return [
    { name: 'format', points: score.format, max: 30 },
    { name: 'diversity', points: score.diversity, max: 30 },
    { name: 'hyde', points: score.hyde, max: hasHyde ? 20 : 0 },
    { name: 'quality', points: score.quality, max: 20 },
  ];
}

interface RewardSide {
  reward: RewardScore;
  bars: CategoryBar[];
  notes: string[];
}

function rewardSide(query: string, expansion: string, parsed: Parsed, entities: readonly string[]): RewardSide {
  if (!startsWithPrefix(expansion)) {
    const maxima = { format: 30, diversity: 30, hyde: parsed.hyde.length > 0 ? 20 : 0, quality: 20, entity: 20 };
    return {
      reward: { hard_fail: true, reward: 0 },
      bars: Object.entries(maxima).map(([name, max]) => ({ name, points: 0, max })),
      notes: ['hard fail: the first line does not start with lex:, vec: or hyde: (reward 0)'],
    };
  }
  const categories = rewardCategories(query, parsed, entities);
  const reward = rewardFromCategories(categories, parsed);
  const notes = categories.flatMap((c) => c.lost.map((note) => `${c.name}: ${note}`));
  if (reward.total < 0) notes.push(`total ${reward.total} is below 0: reward clamped to 0`);
  return { reward, bars: categories.map(({ name, points, max }) => ({ name, points, max })), notes };
}

export function explain(query: string, expansion: string): Explanation {
  checkScorable(query, expansion);
  const entities = namedEntities(query);
  const parsed = parseExpansion(expansion);
  const evalScore = scoreEval(query, expansion);
  const reward = rewardSide(query, expansion, parsed, entities);
  return {
    lines: explainLines(query, expansion, entities),
    entities,
    eval: evalScore,
    reward: reward.reward,
    categories: { eval: evalBars(evalScore, !evalScore.is_continuation && parsed.hyde.length > 0), reward: reward.bars },
    rewardNotes: reward.notes,
  };
}
