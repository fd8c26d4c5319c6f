// While a training run is under way: the browser warns before unloading the page (unload-guard.ts),
// a marker in localStorage (run-marker.ts) says a run is going on, and a Web Lock held for the run
// tells other tabs it is alive. The run ends → all three go. A marker left behind without its lock
// is a run the page lost to a reload or a closed tab: InterruptedRun.svelte says so on #/train.
// Engine loads and eval runs hold the unload guard where they run (engine.svelte.ts, EvalRunner).
import { untrack } from 'svelte';
import { lab } from '../app/lab.ts';
import { clearRun, markRun, readRun, type RunMarker } from '../app/run-marker.ts';
import { holdUnload } from '../app/unload-guard.ts';
import { trainRun } from './train/train-run.svelte.ts';

const LOCK = 'qmd-lab-train-run';

/** Whether a run in another tab holds the lock (false where Web Locks are missing). */
export async function runningElsewhere(): Promise<boolean> {
  const state = await navigator.locks?.query();
  return state?.held?.some((lock) => lock.name === LOCK) ?? false;
}

function watchRun(): () => void {
  const { model, datasetId } = untrack(() => ({ model: trainRun.model ?? '', datasetId: trainRun.datasetId }));
  let marker: RunMarker = { started: Date.now(), model, dataset: null, steps: 0, of: null };
  let ended = false;
  markRun(localStorage, marker);
  const update = (change: Partial<RunMarker>) => {
    if (ended) return;
    marker = { ...marker, ...change };
    markRun(localStorage, marker);
  };
  if (datasetId) void lab().then(async (db) => update({ dataset: (await db.get('datasets', datasetId))?.name ?? null }));
  let unlock = () => {};
  void navigator.locks?.request(LOCK, () => new Promise<void>((resolve) => (unlock = resolve)));
  const release = holdUnload('training');
  const steps = $effect.root(() => {
    $effect(() => {
      const last = trainRun.steps.at(-1);
      if (last) update({ steps: last.step, of: last.of });
    });
  });
  return () => {
    ended = true;
    steps();
    release();
    unlock();
    clearRun(localStorage);
  };
}

// Started once, when the app first imports this module (TrainView, through InterruptedRun.svelte),
// so it follows the run whichever view is open.
$effect.root(() => {
  $effect(() => {
    if (trainRun.running) return untrack(watchRun);
  });
});

/** The marker of a run this page lost, or null (none, or a run alive in another tab). */
export async function interruptedRun(): Promise<RunMarker | null> {
  if (trainRun.running) return null;
  const marker = readRun(localStorage);
  return marker && !(await runningElsewhere()) ? marker : null;
}

export function dismissInterruptedRun(): void {
  clearRun(localStorage);
}
