// Long loops over untrusted input (a shared link, an imported file, a dataset audit) run on the
// page's main thread; giving the event loop a turn every few milliseconds keeps the page
// responsive however large the input, without the cost of shipping the work to a worker.

const SLICE_MS = 8;

/**
 * A new task, queued behind whatever is waiting (input, rendering, timers). Not scheduler.yield():
 * its continuation runs ahead of other queued tasks. A message, unlike setTimeout(0), is not
 * clamped to 4 ms when nested.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
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
