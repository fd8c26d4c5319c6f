import { describe, expect, it } from 'vitest';
import { explain } from '../scoring/index.ts';
import { segments } from './segments.ts';

describe('segments', () => {
  it('keeps every character, in order, and marks only the spans', () => {
    const parts = segments('use Docker and K8s', [[4, 10], [15, 18]]);
    expect(parts).toEqual([
      { text: 'use ', marked: false }, { text: 'Docker', marked: true }, { text: ' and ', marked: false }, { text: 'K8s', marked: true },
    ]);
  });
  it('returns one plain run without spans, even for an empty line', () => {
    expect(segments('', [])).toEqual([{ text: '', marked: false }]);
  });
  it('marks exactly the entities the scorer found in an explained line', () => {
    const { lines, entities } = explain('TDS motorsports pricing', 'lex: tds motorsports price list\nvec: how much does TDS charge');
    // rule 5 of named_entities: a word after an entity is one too
    expect(entities).toEqual(['motorsports', 'pricing', 'tds']);
    const marked = lines.map((line) => segments(line.text, line.entitySpans).filter((s) => s.marked).map((s) => s.text.toLowerCase()));
    expect(marked).toEqual([['tds', 'motorsports'], ['tds']]);
    for (const line of lines) expect(segments(line.text, line.entitySpans).map((s) => s.text).join('')).toBe(line.text);
  });
});
