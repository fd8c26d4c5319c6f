// While a training run is under way: the browser warns before unloading the page (unload-guard.ts),
// and a Web Lock named for the run (run-lock.ts) tells other tabs, and this one after a reload,
// that it is alive. The run ends → both go. A run stored as running without its lock is one the
// page lost to a reload, a closed tab or a crash: the runs table lists it as interrupted.
// Engine loads and eval runs hold the unload guard where they run (engine.svelte.ts, EvalRunner).
import { untrack } from 'svelte';
import { holdRunLock } from '../app/run-lock.ts';
import { holdUnload } from '../app/unload-guard.ts';
import { trainRun } from './train/train-run.svelte.ts';

function watchRun(): () => void {
  const id = trainRun.record?.id;
  const unlock = id ? holdRunLock(id) : () => {};
  const release = holdUnload('training');
  return () => {
    release();
    unlock();
  };
}

// Started once, when the app first imports this module (TrainView), so it follows the run whichever view is open.
$effect.root(() => {
  $effect(() => {
    if (trainRun.running) return untrack(watchRun);
  });
});
