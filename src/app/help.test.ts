import { describe, expect, it } from 'vitest';
import type { DraftStorage } from './draft.ts';
import { HELP_SECTIONS, HELP_TIPS_KEY, helpLine, setTipsHidden, tipsHidden } from './help.ts';
import { NAV, parseHash, type Route } from './router.ts';

function memoryStorage(): DraftStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

describe('help lines', () => {
  const views: Route['view'][] = ['playground', 'datasets', 'dataset', 'train', 'eval', 'results', 'result', 'share'];

  it('gives every view one short line that links to a section of the help page', () => {
    const sections = new Set<string>(HELP_SECTIONS.map((s) => s.id));
    for (const view of views) {
      const line = helpLine(view);
      expect(line, view).not.toBeNull();
      expect(sections.has(line!.section), `${view} → ${line!.section}`).toBe(true);
      expect(line!.text.length, view).toBeLessThanOrEqual(200);
    }
    expect(helpLine('help')).toBeNull();
    expect(helpLine('unknown')).toBeNull();
  });

  it('says what lex, vec and hyde are where a first visit lands', () => {
    const landing = helpLine(parseHash('').view)!;
    expect(landing.section).toBe('lines');
    for (const word of ['QMD', 'lex', 'vec', 'hyde']) expect(landing.text).toContain(word);
  });

  it('links every nav entry’s view to help (the Help entry itself aside)', () => {
    for (const entry of NAV) {
      const view = parseHash(entry.hash).view;
      if (view !== 'help') expect(helpLine(view), entry.label).not.toBeNull();
    }
  });

  it('remembers that the tips were hidden, and forgets it on request', () => {
    const storage = memoryStorage();
    expect(tipsHidden(storage)).toBe(false);
    expect(setTipsHidden(storage, true)).toBe(true);
    expect(storage.map.get(HELP_TIPS_KEY)).toBe('hidden');
    expect(tipsHidden(storage)).toBe(true);
    setTipsHidden(storage, false);
    expect(tipsHidden(storage)).toBe(false);
    expect(storage.map.has(HELP_TIPS_KEY)).toBe(false);
  });

  it('shows the tips where storage is blocked', () => {
    const blocked: DraftStorage = {
      getItem: () => { throw new Error('SecurityError'); },
      setItem: () => { throw new Error('QuotaExceededError'); },
      removeItem: () => { throw new Error('SecurityError'); },
    };
    expect(tipsHidden(blocked)).toBe(false);
    expect(setTipsHidden(blocked, true)).toBe(false);
    expect(setTipsHidden(undefined, true)).toBe(false);
  });
});
