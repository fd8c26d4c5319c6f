// A note in localStorage that a training run is under way: written when it starts, updated each
// step, removed when it ends (finished, cancelled or failed). Found at the next visit, it means
// the tab closed or reloaded mid-run and the run was lost. Resuming is not offered here: the note
// only says what was lost.

export interface RunMarker {
  /** ms since the epoch. */
  started: number;
  /** The base model's name. */
  model: string;
  /** The dataset's name, when known. */
  dataset: string | null;
  /** Steps finished when the note was last written, and the run's planned total (null before the first step). */
  steps: number;
  of: number | null;
}

type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const KEY = 'qmd-lab.train-run';

export function markRun(storage: Store, marker: RunMarker): void {
  storage.setItem(KEY, JSON.stringify(marker));
}

export function clearRun(storage: Store): void {
  storage.removeItem(KEY);
}

/** The note a run left, or null when there is none (or it cannot be read: a note is only ever a hint). */
export function readRun(storage: Store): RunMarker | null {
  let value: unknown;
  try {
    value = JSON.parse(storage.getItem(KEY) ?? 'null');
  } catch {
    return null;
  }
  const m = value as Partial<RunMarker> | null;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const valid =
    typeof m === 'object' && m !== null && count(m.started) && typeof m.model === 'string' &&
    (m.dataset === null || typeof m.dataset === 'string') && count(m.steps) && (m.of === null || count(m.of));
  return valid ? (m as RunMarker) : null;
}
