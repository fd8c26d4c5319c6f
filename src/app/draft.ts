// The playground's inputs (query and expansion) kept in localStorage, so that a reload or
// a visit to another view does not lose what the user typed. Text put into the editor by a
// button (a model's output, the example) keeps what it replaced for a one-step undo.

/** What the two input boxes hold. */
export interface EditorText {
  query: string;
  expansion: string;
}

/** What a button put into the editor, and the user's own text it replaced. */
export interface EditorUndo {
  typed: EditorText;
  placed: EditorText;
}

export interface PlaygroundDraft extends EditorText {
  /** null once nothing placed by a button is waiting to be undone. */
  undo: EditorUndo | null;
}

/** The part of the Web Storage API the draft needs (localStorage in the page, a Map in tests). */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const DRAFT_KEY = 'qmd-lab.playground.v1';

export const EXAMPLE_DRAFT: EditorText = {
  query: 'how to configure authentication',
  expansion: [
    'lex: authentication config',
    'lex: auth settings setup',
    'vec: how to set up user authentication in an app',
    'vec: configuring login and access control',
    'hyde: To configure authentication, set the auth provider and secret in the config file, then restart the server.',
  ].join('\n'),
};

const sameText = (a: EditorText, b: EditorText) => a.query === b.query && a.expansion === b.expansion;
const pickText = ({ query, expansion }: EditorText): EditorText => ({ query, expansion });

/** What undo brings back: set while the editor still holds exactly what was placed (an edit makes the text the user's). */
export function pendingUndo(draft: PlaygroundDraft): EditorText | null {
  return draft.undo !== null && sameText(draft, draft.undo.placed) ? draft.undo.typed : null;
}

/**
 * The editor holding `placed`. A second placement over an untouched first one keeps the text the
 * user typed before the first, so that undo always brings back the user's own words.
 */
export function placeText(draft: PlaygroundDraft, placed: EditorText): PlaygroundDraft {
  if (sameText(draft, placed)) return draft;
  const typed = pendingUndo(draft) ?? pickText(draft);
  return { ...pickText(placed), undo: { typed, placed: pickText(placed) } };
}

/** The editor back to what the user had typed before the last placement (unchanged when there is nothing to undo). */
export function undoPlacement(draft: PlaygroundDraft): PlaygroundDraft {
  const typed = pendingUndo(draft);
  return typed === null ? draft : { ...typed, undo: null };
}

const isText = (value: unknown): value is EditorText =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as EditorText).query === 'string' &&
  typeof (value as EditorText).expansion === 'string';

function readUndo(value: unknown): EditorUndo | null {
  if (typeof value !== 'object' || value === null) return null;
  const { typed, placed } = value as Partial<EditorUndo>;
  return isText(typed) && isText(placed) ? { typed: pickText(typed), placed: pickText(placed) } : null;
}

/** The stored draft, or the example when nothing (or something unreadable) is stored. */
export function loadDraft(storage: DraftStorage | undefined): PlaygroundDraft {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(DRAFT_KEY) ?? null;
  } catch {
    // Storage can throw when the browser blocks it (privacy settings): start from the example.
  }
  const example: PlaygroundDraft = { ...EXAMPLE_DRAFT, undo: null };
  if (raw === null) return example;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // A value written by something else under our key: ignore it rather than fail the page.
    return example;
  }
  if (!isText(parsed)) return example;
  return { ...pickText(parsed), undo: readUndo((parsed as { undo?: unknown }).undo) };
}

/** Stores the draft; returns false when the browser refused (quota, blocked storage). */
export function saveDraft(storage: DraftStorage | undefined, draft: PlaygroundDraft): boolean {
  if (!storage) return false;
  try {
    storage.setItem(DRAFT_KEY, JSON.stringify({ ...pickText(draft), undo: draft.undo }));
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
