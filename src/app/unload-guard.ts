// The browser's "Leave site?" warning while long work runs in the page (a model download or load,
// an eval run, training, a dataset import): a reload or a closed tab loses that work, and the
// browser shows the warning only to a beforeunload listener that cancels the event.

type Target = Pick<Window, 'addEventListener' | 'removeEventListener'>;

export class UnloadGuard {
  readonly #work = new Map<symbol, string>();

  constructor(private readonly target: Target) {}

  readonly #warn = (event: BeforeUnloadEvent) => {
    event.preventDefault();
    // Browsers before preventDefault() was honoured here (Chrome < 119) look at returnValue.
    event.returnValue = '';
  };

  /** Warns before unload until the returned release is called (once is enough; more are ignored). */
  hold(what: string): () => void {
    const token = Symbol(what);
    if (this.#work.size === 0) this.target.addEventListener('beforeunload', this.#warn);
    this.#work.set(token, what);
    return () => {
      if (!this.#work.delete(token)) return;
      if (this.#work.size === 0) this.target.removeEventListener('beforeunload', this.#warn);
    };
  }

  /** What runs now, in the order it started. */
  get running(): string[] {
    return [...this.#work.values()];
  }
}

let page: UnloadGuard | null = null;

/** The page's guard (made on first use, so importing this module in Node does nothing). */
export function holdUnload(what: string): () => void {
  page ??= new UnloadGuard(window);
  return page.hold(what);
}
