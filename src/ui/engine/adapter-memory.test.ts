import { describe, expect, it } from 'vitest';
import { recallAdapters, rememberAdapters, restorableAdapter } from './adapter-memory.ts';

function memoryStorage(): Pick<Storage, 'getItem' | 'setItem'> {
  const items = new Map<string, string>();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
}

describe('remembered adapters', () => {
  it('restores hub and stored adapters, names the others, and reads back what it wrote', () => {
    const hub = restorableAdapter('tobil/qmd-query-expansion-0.6B-v4', 'tobil/qmd-query-expansion-0.6B-v4', {
      kind: 'hub',
      repo: 'tobil/qmd-query-expansion-0.6B-v4',
    });
    const stored = restorableAdapter('stored:1b2c', 'my sft', { kind: 'files', files: [], name: 'my sft' });
    expect(hub?.from).toEqual({ kind: 'hub', repo: 'tobil/qmd-query-expansion-0.6B-v4' });
    expect(stored?.from).toEqual({ kind: 'stored', storedId: '1b2c' });
    expect(restorableAdapter('trained:9', 'trained', { kind: 'files', files: [] })).toBeNull();
    expect(restorableAdapter('picked:3', 'folder', { kind: 'files', files: [] })).toBeNull();

    const storage = memoryStorage();
    expect(recallAdapters(storage)).toBeNull();
    const record = { base: 'Qwen/Qwen3-0.6B', adapters: [hub!, stored!], lost: ['trained'], selected: 'stored:1b2c' };
    rememberAdapters(storage, record);
    expect(recallAdapters(storage)).toEqual(record);
  });

  it('reads a damaged or foreign record as none', () => {
    const storage = memoryStorage();
    const bad = [
      '{',
      '{"base":"m","adapters":[{"id":"a","label":"a","from":{"kind":"files"}}],"lost":[],"selected":null}',
      '{"base":"m","adapters":[{"id":"a","label":"a","from":{"kind":"hub","repo":3}}],"lost":[],"selected":null}',
      '{"base":"m","adapters":[],"lost":[1],"selected":null}',
    ];
    for (const text of bad) {
      storage.setItem('qmd-lab.loaded-adapters', text);
      expect(recallAdapters(storage)).toBeNull();
    }
  });
});
