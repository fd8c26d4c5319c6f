// Which adapters were loaded on which base model, kept in localStorage so that after a page
// reload (or loading the base again) the model panel can offer to load them again. Only adapters
// whose files can be found again are restorable: hub repos (their files are in the download cache)
// and adapters stored in this browser; picked folders and unsaved trained adapters are only named.
import type { ModelSource } from '../../engine/protocol.ts';

type HubSource = Extract<ModelSource, { kind: 'hub' }>;

export interface RestorableAdapter {
  /** The engine's id for it. */
  id: string;
  label: string;
  from: HubSource | { kind: 'stored'; storedId: string };
}

export interface RememberedAdapters {
  /** The base model's name they were loaded on. */
  base: string;
  adapters: RestorableAdapter[];
  /** Names of loaded adapters that cannot be restored. */
  lost: string[];
  /** The engine id selected for Expand; null for the base model. */
  selected: string | null;
}

type Store = Pick<Storage, 'getItem' | 'setItem'>;

const KEY = 'qmd-lab.loaded-adapters';
// The engine id stored-adapters.svelte.ts gives an adapter it loads from IndexedDB.
const STORED = 'stored:';

/** How to load the adapter again, or null when its files cannot be found after a reload. */
export function restorableAdapter(id: string, label: string, source: ModelSource): RestorableAdapter | null {
  if (source.kind === 'hub') return { id, label, from: { ...source } };
  if (id.startsWith(STORED)) return { id, label, from: { kind: 'stored', storedId: id.slice(STORED.length) } };
  return null;
}

export function rememberAdapters(storage: Store, record: RememberedAdapters): void {
  storage.setItem(KEY, JSON.stringify(record));
}

const isText = (v: unknown): v is string => typeof v === 'string';

function isRestorable(v: unknown): v is RestorableAdapter {
  const a = v as RestorableAdapter | null;
  if (typeof a !== 'object' || a === null || !isText(a.id) || !isText(a.label)) return false;
  const from = a.from as Record<string, unknown> | null;
  if (from?.kind === 'stored') return isText(from.storedId);
  return from?.kind === 'hub' && isText(from.repo) && [from.revision, from.base].every((v) => v === undefined || isText(v));
}

/** The record, or null when there is none or it cannot be read (it is only a hint). */
export function recallAdapters(storage: Store): RememberedAdapters | null {
  let value: unknown;
  try {
    value = JSON.parse(storage.getItem(KEY) ?? 'null');
  } catch {
    return null;
  }
  const r = value as RememberedAdapters | null;
  const valid =
    typeof r === 'object' && r !== null && isText(r.base) && Array.isArray(r.adapters) && r.adapters.every(isRestorable) &&
    Array.isArray(r.lost) && r.lost.every(isText) && (r.selected === null || isText(r.selected));
  return valid ? r : null;
}
