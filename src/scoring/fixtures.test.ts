// Parity with the Python scorers: every reference case must match field for field.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { sharedFile } from '../testing/shared.ts';
import { scoreBoth } from './index.ts';

const fixture = sharedFile('fixtures/scoring-reference.jsonl');

interface ReferenceCase {
  query: string;
  expansion: string;
  eval: unknown;
  reward: unknown;
  entities: unknown;
}

describe('scoring-reference.jsonl', () => {
  test.skipIf(fixture === null)('all 8,887 cases match eval, reward and entities exactly', () => {
    const cases = readFileSync(fixture!, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ReferenceCase);
    expect(cases.length).toBe(8887);
    const mismatches: string[] = [];
    cases.forEach((c, i) => {
      const got = scoreBoth(c.query, c.expansion);
      for (const field of ['eval', 'reward', 'entities'] as const) {
        try {
          expect(got[field]).toStrictEqual(c[field]);
        } catch {
          mismatches.push(`line ${i + 1} ${field}: want ${JSON.stringify(c[field])} got ${JSON.stringify(got[field])}`);
        }
      }
    });
    expect(mismatches.length, mismatches.slice(0, 5).join('\n')).toBe(0);
  });
});
