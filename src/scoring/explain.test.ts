import { describe, expect, test } from 'vitest';
import { explain, scoreEval, scoreReward, type Explanation } from './index.ts';
import {
  DOCKER, DOCKER_QUERY, ECHO, ECHO_QUERY, FILLER, FILLER_QUERY, NGINX, NGINX_QUERY,
} from './handCases.ts';

function spanTexts(x: Explanation, line: number): string[] {
  const { text, entitySpans } = x.lines[line]!;
  return entitySpans.map(([start, end]) => text.slice(start, end));
}

/** Losses cited by the notes of one reward category, e.g. "entity: ... (-15)". */
function citedLoss(notes: string[], category: string): number {
  return notes
    .filter((n) => n.startsWith(`${category}: `))
    .reduce((sum, n) => sum + Number(/\(-(\d+)\)$/.exec(n)![1]), 0);
}

describe('explain', () => {
  test('lines carry kind, number and entity spans that point at the entity text', () => {
    const x = explain('configure Nginx reverse proxy', 'lex: NGINX reverse-proxy\nvec: 😀 Nginx as a proxy\nnote');
    expect(x.lines.map((l) => [l.kind, l.number])).toEqual([['lex', 1], ['vec', 1], ['invalid', 1]]);
    expect(spanTexts(x, 0)).toEqual(['NGINX', 'reverse', 'proxy']);
    expect(x.lines[1]!.entitySpans).toEqual([[3, 8], [14, 19]]);
    expect(spanTexts(x, 1)).toEqual(['Nginx', 'proxy']);
  });

  test('overlapping mentions merge; lower-casing that changes length still maps back', () => {
    expect(spanTexts(explain('use Node and NodeJS', 'lex: nodejs runtime'), 0)).toEqual(['nodejs']);
    expect(spanTexts(explain('visit İstanbul', 'lex: İstanbul guide'), 0)).toEqual(['İstanbul']);
  });

  test('echo, generic and duplicate marks', () => {
    const echo = explain(ECHO_QUERY, ECHO);
    expect(echo.lines.map((l) => l.echo)).toEqual([true, true, false]);
    expect(explain(DOCKER_QUERY, DOCKER).lines.map((l) => l.generic)).toEqual([false, true, false]);
    const dup = explain('q', 'lex: nginx proxy\nvec: a b c d\nlex: nginx proxy\nlex: Nginx Proxy setup');
    expect(dup.lines.map((l) => l.duplicateOf)).toEqual([[], [], [0], [0, 2]]);
  });

  test.each([
    ['complete', NGINX_QUERY, NGINX],
    ['entities', DOCKER_QUERY, DOCKER],
    ['echo', ECHO_QUERY, ECHO],
    ['filler', FILLER_QUERY, FILLER],
    ['partial', 'configure Nginx reverse proxy', 'lex: apache\nlex: nginx\nvec: web server\nhyde: short\nstray'],
  ])('%s: bars match both scores and every lost reward point is explained', (_why, query, expansion) => {
    const x = explain(query, expansion);
    const evalScore = scoreEval(query, expansion);
    const reward = scoreReward(query, expansion);
    expect(x.eval).toStrictEqual(evalScore);
    expect(x.reward).toStrictEqual(reward);
    expect(x.categories.eval.reduce((s, c) => s + c.points, 0)).toBe(evalScore.total);
    expect(x.categories.eval.reduce((s, c) => s + c.max, 0)).toBe(evalScore.max_possible);
    if ('hard_fail' in reward) throw new Error('expected a scored expansion');
    expect(x.categories.reward.reduce((s, c) => s + c.points, 0)).toBe(reward.total);
    expect(x.categories.reward.reduce((s, c) => s + c.max, 0)).toBe(reward.max_possible);
    for (const bar of x.categories.reward) expect(citedLoss(x.rewardNotes, bar.name), bar.name).toBe(bar.max - bar.points);
  });

  test('notes name the lost points', () => {
    expect(explain(DOCKER_QUERY, DOCKER).rewardNotes).toEqual([
      'quality: no key term of the query in lex line 2 (-3)',
      'entity: only 1 of 2 lex lines name an entity (-10)',
      'entity: lex line 2 is generic filler (-15)',
    ]);
    expect(explain(FILLER_QUERY, FILLER).rewardNotes).toContain('total -40 is below 0: reward clamped to 0');
  });

  test('hard fail explains itself and still shows the lines', () => {
    const x = explain('q', 'Sure!\nlex: a');
    expect(x.reward).toStrictEqual({ hard_fail: true, reward: 0 });
    expect(x.rewardNotes).toHaveLength(1);
    expect(x.categories.reward.every((c) => c.points === 0)).toBe(true);
    expect(x.lines.map((l) => l.kind)).toEqual(['invalid', 'lex']);
  });
});
