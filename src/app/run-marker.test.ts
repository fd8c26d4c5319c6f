import { describe, expect, it } from 'vitest';
import { clearRun, markRun, readRun, type RunMarker } from './run-marker.ts';

function memoryStorage(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
  const items = new Map<string, string>();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) };
}

describe('run marker', () => {
  it('is read back until the run ends, and a damaged note reads as none', () => {
    const storage = memoryStorage();
    expect(readRun(storage)).toBeNull();
    const marker: RunMarker = { started: 1_700_000_000_000, model: 'Qwen/Qwen3-0.6B', dataset: 'qmd_expansion.jsonl', steps: 0, of: null };
    markRun(storage, marker);
    expect(readRun(storage)).toEqual(marker);
    markRun(storage, { ...marker, steps: 3, of: 10 });
    expect(readRun(storage)).toMatchObject({ steps: 3, of: 10 });
    clearRun(storage);
    expect(readRun(storage)).toBeNull();
    for (const bad of ['{', '[]', '{"started":1,"model":7,"dataset":null,"steps":0,"of":null}', '{"started":-1,"model":"m","dataset":null,"steps":0,"of":null}']) {
      storage.setItem('qmd-lab.train-run', bad);
      expect(readRun(storage)).toBeNull();
    }
  });
});
