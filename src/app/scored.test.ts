import { describe, expect, it } from 'vitest';
import { MAX_EXPANSION_LINES, explain } from '../scoring/index.ts';
import { scoreGenerated, scoreText } from './scored.ts';

const EXPANSION = 'lex: tds motorsports price\nvec: how much does TDS Motorsports charge for a race car build';

describe('scoring in the playground', () => {
  it('explains a pair as src/scoring does', () => {
    expect(scoreText('TDS motorsports pricing', EXPANSION)).toEqual({ explanation: explain('TDS motorsports pricing', EXPANSION), refused: null });
  });

  it('answers text past the scorers\' limits with the reason instead of throwing', () => {
    const tooMany = Array.from({ length: MAX_EXPANSION_LINES + 1 }, (_, i) => `lex: line ${i}`).join('\n');
    const scored = scoreText('q', tooMany);
    expect(scored.explanation).toBeNull();
    expect(scored.refused).toContain(`at most ${MAX_EXPANSION_LINES}`);
  });

  it('scores an output against the query it was generated for, once it has finished without error', () => {
    const generated = { query: 'TDS motorsports pricing', text: EXPANSION, done: true, error: null };
    const scored = scoreGenerated(generated);
    expect(scored?.explanation).toEqual(explain('TDS motorsports pricing', EXPANSION));
    // The entity score depends on the query: another query would give another reward.
    expect(scored?.explanation?.reward.reward).not.toBe(explain('how to configure authentication', EXPANSION).reward.reward);
    expect(scoreGenerated({ ...generated, done: false })).toBeNull();
    expect(scoreGenerated({ ...generated, error: 'cancelled' })).toBeNull();
  });
});
