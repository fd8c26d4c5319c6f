// Long loops over untrusted input (a shared link, an imported file, a dataset audit) run on the
// page's main thread; giving the event loop a turn every few milliseconds keeps the page
// responsive however large the input, without the cost of shipping the work to a worker.

const SLICE_MS = 8;

interface Scheduler {
  yield?(): Promise<void>;
}

function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (scheduler?.yield) return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A pause to await in each iteration: it returns at once until `ms` have passed since the last
 * turn given to the event loop, then gives one (and checks `signal`).
 */
export function timeSlices(signal?: AbortSignal, ms = SLICE_MS): () => Promise<void> {
  let start = performance.now();
  return async () => {
    if (performance.now() - start < ms) return;
    await yieldToEventLoop();
    signal?.throwIfAborted();
    start = performance.now();
  };
}
