import { describe, expect, it } from 'vitest';
import { DRAFT_KEY, EXAMPLE_DRAFT, clearDraft, loadDraft, saveDraft, type DraftStorage } from './draft.ts';

function memoryStorage(): DraftStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

describe('playground draft', () => {
  it('round-trips query and expansion exactly, newlines and markup included', () => {
    const storage = memoryStorage();
    const draft = { query: 'TDS <b>motorsports</b> "pricing"', expansion: 'lex: a\r\nvec: b\n\nhyde: ünïcode ✓' };
    expect(saveDraft(storage, draft)).toBe(true);
    expect(loadDraft(storage)).toEqual(draft);
  });
  it('starts from the example when nothing, or something foreign, is stored', () => {
    const storage = memoryStorage();
    expect(loadDraft(storage)).toEqual(EXAMPLE_DRAFT);
    storage.map.set(DRAFT_KEY, 'not json');
    expect(loadDraft(storage)).toEqual(EXAMPLE_DRAFT);
    storage.map.set(DRAFT_KEY, JSON.stringify({ query: 3, expansion: 'x' }));
    expect(loadDraft(storage)).toEqual(EXAMPLE_DRAFT);
    expect(loadDraft(undefined)).toEqual(EXAMPLE_DRAFT);
  });
  it('keeps empty inputs as typed (an emptied field stays empty after a reload)', () => {
    const storage = memoryStorage();
    saveDraft(storage, { query: '', expansion: '' });
    expect(loadDraft(storage)).toEqual({ query: '', expansion: '' });
  });
  it('survives a storage that throws, and clears back to the example', () => {
    const blocked: DraftStorage = {
      getItem: () => { throw new Error('SecurityError'); },
      setItem: () => { throw new Error('QuotaExceededError'); },
      removeItem: () => { throw new Error('SecurityError'); },
    };
    expect(loadDraft(blocked)).toEqual(EXAMPLE_DRAFT);
    expect(saveDraft(blocked, { query: 'q', expansion: 'e' })).toBe(false);
    expect(() => clearDraft(blocked)).not.toThrow();
    const storage = memoryStorage();
    saveDraft(storage, { query: 'q', expansion: 'e' });
    clearDraft(storage);
    expect(loadDraft(storage)).toEqual(EXAMPLE_DRAFT);
  });
});
