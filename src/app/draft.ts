// The playground's inputs (query and expansion) kept in localStorage, so that a reload or
// a visit to another view does not lose what the user typed.

export interface PlaygroundDraft {
  query: string;
  expansion: string;
}

/** The part of the Web Storage API the draft needs (localStorage in the page, a Map in tests). */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const DRAFT_KEY = 'qmd-lab.playground.v1';

export const EXAMPLE_DRAFT: PlaygroundDraft = {
  query: 'how to configure authentication',
  expansion: [
    'lex: authentication config',
    'lex: auth settings setup',
    'vec: how to set up user authentication in an app',
    'vec: configuring login and access control',
    'hyde: To configure authentication, set the auth provider and secret in the config file, then restart the server.',
  ].join('\n'),
};

/** The stored draft, or the example when nothing (or something unreadable) is stored. */
export function loadDraft(storage: DraftStorage | undefined): PlaygroundDraft {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(DRAFT_KEY) ?? null;
  } catch {
    // Storage can throw when the browser blocks it (privacy settings): start from the example.
  }
  if (raw === null) return { ...EXAMPLE_DRAFT };
  try {
    const parsed = JSON.parse(raw) as Partial<PlaygroundDraft>;
    if (typeof parsed.query === 'string' && typeof parsed.expansion === 'string') return { query: parsed.query, expansion: parsed.expansion };
  } catch {
    // A value written by something else under our key: ignore it rather than fail the page.
  }
  return { ...EXAMPLE_DRAFT };
}

/** Stores the draft; returns false when the browser refused (quota, blocked storage). */
export function saveDraft(storage: DraftStorage | undefined, draft: PlaygroundDraft): boolean {
  if (!storage) return false;
  try {
    storage.setItem(DRAFT_KEY, JSON.stringify({ query: draft.query, expansion: draft.expansion }));
    return true;
  } catch {
    return false;
  }
}

/** Forgets the stored draft: the next load gives the example again. */
export function clearDraft(storage: DraftStorage | undefined): void {
  try {
    storage?.removeItem(DRAFT_KEY);
  } catch {
    // Nothing stored can be read back either, so there is nothing left to clear.
  }
}

/** The page's localStorage, or undefined where reading the property itself throws (blocked storage). */
export function pageStorage(): DraftStorage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}
