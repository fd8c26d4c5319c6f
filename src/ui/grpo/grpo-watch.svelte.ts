// While a GRPO run is under way, as run-watch.svelte.ts does for SFT runs: the browser warns before
// unloading the page, and the run's Web Lock tells other tabs (and this one after a reload) it is alive.
import { untrack } from 'svelte';
import { holdRunLock } from '../../app/run-lock.ts';
import { holdUnload } from '../../app/unload-guard.ts';
import { grpoRun } from './grpo-run.svelte.ts';

function watchRun(): () => void {
  const id = grpoRun.record?.id;
  const unlock = id ? holdRunLock(id) : () => {};
  const release = holdUnload('GRPO training');
  return () => {
    release();
    unlock();
  };
}

// Started once, when GrpoView first imports this module, so it follows the run whichever view is open.
$effect.root(() => {
  $effect(() => {
    if (grpoRun.running) return untrack(watchRun);
  });
});
