import { describe, expect, it } from 'vitest';
import { uniqueName } from './names.ts';

describe('uniqueName', () => {
  it('keeps a free name (trimmed), and suffixes a taken one with the first free (n)', () => {
    expect(uniqueName('  run ', [])).toBe('run');
    expect(uniqueName('run', ['other'])).toBe('run');
    expect(uniqueName('run', ['run'])).toBe('run (2)');
    expect(uniqueName('run', ['run', 'run (2)', 'run (4)'])).toBe('run (3)');
  });

  it('names read the same whatever their case, spacing at the ends or Unicode form', () => {
    expect(uniqueName('Run', [' run '])).toBe('Run (2)');
    // "é" as one code point and as e + combining acute.
    expect(uniqueName('caf\u00e9', ['cafe\u0301'])).toBe('caf\u00e9 (2)');
  });

  it('a suffixed name that is taken counts on from its stem, never doubling the suffix', () => {
    expect(uniqueName('run (2)', ['run', 'run (2)'])).toBe('run (3)');
    expect(uniqueName('qmd · validation', ['qmd · validation'])).toBe('qmd · validation (2)');
  });

  it('finds the first free suffix past many taken ones', () => {
    const taken = ['x', ...Array.from({ length: 500 }, (_, i) => `x (${i + 2})`)];
    expect(uniqueName('x', taken)).toBe('x (502)');
  });
});
