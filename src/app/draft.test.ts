import { describe, expect, it } from 'vitest';
import {
  DRAFT_KEY, EXAMPLE_DRAFT, clearDraft, loadDraft, pendingUndo, placeText, saveDraft, undoPlacement, type DraftStorage, type PlaygroundDraft,
} from './draft.ts';

function memoryStorage(): DraftStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

describe('playground draft', () => {
  it('round-trips query and expansion exactly, newlines and markup included', () => {
    const storage = memoryStorage();
    const draft = { query: 'TDS <b>motorsports</b> "pricing"', expansion: 'lex: a\r\nvec: b\n\nhyde: ünïcode ✓', undo: null };
    expect(saveDraft(storage, draft)).toBe(true);
    expect(loadDraft(storage)).toEqual(draft);
  });
  it('starts from the example when nothing, or something foreign, is stored', () => {
    const storage = memoryStorage();
    const example = { ...EXAMPLE_DRAFT, undo: null };
    expect(loadDraft(storage)).toEqual(example);
    storage.map.set(DRAFT_KEY, 'not json');
    expect(loadDraft(storage)).toEqual(example);
    storage.map.set(DRAFT_KEY, JSON.stringify({ query: 3, expansion: 'x' }));
    expect(loadDraft(storage)).toEqual(example);
    expect(loadDraft(undefined)).toEqual(example);
    // A draft stored before undo existed, or with a damaged undo, keeps its text and drops the undo.
    storage.map.set(DRAFT_KEY, JSON.stringify({ query: 'q', expansion: 'e' }));
    expect(loadDraft(storage)).toEqual({ query: 'q', expansion: 'e', undo: null });
    storage.map.set(DRAFT_KEY, JSON.stringify({ query: 'q', expansion: 'e', undo: { typed: { query: 'q' }, placed: 'x' } }));
    expect(loadDraft(storage)).toEqual({ query: 'q', expansion: 'e', undo: null });
  });
  it('keeps empty inputs as typed (an emptied field stays empty after a reload)', () => {
    const storage = memoryStorage();
    saveDraft(storage, { query: '', expansion: '', undo: null });
    expect(loadDraft(storage)).toEqual({ query: '', expansion: '', undo: null });
  });
  it('survives a storage that throws, and clears back to the example', () => {
    const blocked: DraftStorage = {
      getItem: () => { throw new Error('SecurityError'); },
      setItem: () => { throw new Error('QuotaExceededError'); },
      removeItem: () => { throw new Error('SecurityError'); },
    };
    expect(loadDraft(blocked)).toEqual({ ...EXAMPLE_DRAFT, undo: null });
    expect(saveDraft(blocked, { query: 'q', expansion: 'e', undo: null })).toBe(false);
    expect(() => clearDraft(blocked)).not.toThrow();
    const storage = memoryStorage();
    saveDraft(storage, { query: 'q', expansion: 'e', undo: null });
    clearDraft(storage);
    expect(loadDraft(storage)).toEqual({ ...EXAMPLE_DRAFT, undo: null });
  });
});

describe('text placed in the editor by a button', () => {
  const typed: PlaygroundDraft = { query: 'my query', expansion: 'lex: my own line\nvec: typed by hand', undo: null };
  const output = { query: 'my query', expansion: 'lex: model output' };
  const other = { query: 'another query', expansion: 'vec: second output' };

  it('undoes back to exactly what was typed, once', () => {
    const placed = placeText(typed, output);
    expect(placed).toMatchObject(output);
    expect(pendingUndo(placed)).toEqual({ query: typed.query, expansion: typed.expansion });
    const undone = undoPlacement(placed);
    expect(undone).toEqual(typed);
    expect(pendingUndo(undone)).toBeNull();
    expect(undoPlacement(undone)).toBe(undone);
  });

  it('keeps the typed text, not the first output, when a second output replaces an untouched first', () => {
    const twice = placeText(placeText(typed, output), other);
    expect(twice).toMatchObject(other);
    expect(undoPlacement(twice)).toEqual(typed);
  });

  it('treats an edited placement as typed text: no undo over it, and a later placement undoes to the edit', () => {
    const edited = { ...placeText(typed, output), expansion: 'lex: model output, edited by hand' };
    expect(pendingUndo(edited)).toBeNull();
    expect(undoPlacement(edited)).toBe(edited);
    const replaced = placeText(edited, other);
    expect(undoPlacement(replaced)).toEqual({ query: edited.query, expansion: edited.expansion, undo: null });
  });

  it('placing what the editor already holds changes nothing', () => {
    expect(placeText(typed, { query: typed.query, expansion: typed.expansion })).toBe(typed);
  });

  it('survives a reload with its undo', () => {
    const storage = memoryStorage();
    const placed = placeText(typed, output);
    saveDraft(storage, placed);
    const loaded = loadDraft(storage);
    expect(loaded).toEqual(placed);
    expect(undoPlacement(loaded)).toEqual(typed);
  });
});
