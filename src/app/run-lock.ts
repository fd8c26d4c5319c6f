// A Web Lock held by the tab that runs a training run, named for the run: while it is held the
// run is alive somewhere, so another tab (or this one after a reload) does not take it for
// interrupted. Where Web Locks are missing no lock is held and every stored "running" run that
// this tab does not run counts as interrupted.

const PREFIX = 'qmd-lab-train-run:';

type Locks = Pick<LockManager, 'query' | 'request'>;

const locks = (): Locks | undefined => (globalThis.navigator as Navigator | undefined)?.locks;

/** Whether some tab holds run `id`'s lock. */
export async function runLocked(id: string, manager: Locks | undefined = locks()): Promise<boolean> {
  const state = await manager?.query();
  return state?.held?.some((lock) => lock.name === PREFIX + id) ?? false;
}

/** Holds run `id`'s lock until the returned function is called. */
export function holdRunLock(id: string, manager: Locks | undefined = locks()): () => void {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  void manager?.request(PREFIX + id, () => held);
  return release;
}
