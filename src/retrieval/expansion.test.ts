import { describe, expect, it } from 'vitest';
import { MAX_EXPANSION_SEARCHES } from './limits.ts';
import { readExpansion } from './expansion.ts';

describe('readExpansion (QMD expandQuery)', () => {
  it('keeps lex/vec/hyde lines in order, trimmed, prefix split at the first colon', () => {
    const read = readExpansion('api versioning', ' lex: api version header \nvec:how to version an api\nhyde: Version your API: put v1 in the URL.\n');
    expect(read).toEqual({
      searches: [
        { kind: 'lex', text: 'api version header' },
        { kind: 'vec', text: 'how to version an api' },
        { kind: 'hyde', text: 'Version your API: put v1 in the URL.' },
      ],
      fallback: false,
      dropped: 0,
    });
  });

  it('drops lines of other kinds, without a colon, or sharing no word with the query', () => {
    const read = readExpansion('CAP theorem', 'LEX: cap theorem\nnote: cap\ncap theorem\nlex: consistency availability\n lex : the CAP theorem proof\nvec: partition tolerance and the theorem');
    // "LEX" is not a kind (case matters); " lex " is, once trimmed; word match is a substring test.
    expect(read.searches).toEqual([
      { kind: 'lex', text: 'the CAP theorem proof' },
      { kind: 'vec', text: 'partition tolerance and the theorem' },
    ]);
  });

  it('matches query words on a-z/0-9 only, so punctuation in the query does not hide them', () => {
    expect(readExpansion('CI/CD pipeline', 'lex: ci servers').searches).toEqual([{ kind: 'lex', text: 'ci servers' }]);
    // A query of no a-z/0-9 words keeps every line.
    expect(readExpansion('東京', 'vec: tokyo travel').searches).toEqual([{ kind: 'vec', text: 'tokyo travel' }]);
  });

  it('falls back to QMD’s hyde line when nothing survives, and drops lines that repeat the query', () => {
    expect(readExpansion('raft', 'garbage output')).toEqual({ searches: [{ kind: 'hyde', text: 'Information about raft' }], fallback: true, dropped: 0 });
    expect(readExpansion('raft', '')).toMatchObject({ fallback: true });
    // Surviving lines that all equal the query leave no search at all (QMD filters them after its fallback step).
    expect(readExpansion('raft', 'lex: raft\nvec: raft')).toEqual({ searches: [], fallback: false, dropped: 0 });
  });

  it('searches at most MAX_EXPANSION_SEARCHES lines and counts the rest', () => {
    const lines = Array.from({ length: MAX_EXPANSION_SEARCHES + 10 }, (_, i) => `lex: raft ${i}`).join('\n');
    const read = readExpansion('raft', lines);
    expect(read.searches).toHaveLength(MAX_EXPANSION_SEARCHES);
    expect(read.dropped).toBe(10);
  });
});
