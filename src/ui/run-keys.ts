// Keyboard use of a long run's view (#/train, #/grpo): Escape cancels it, and the focus follows
// the run — Cancel holds it while the run lasts (Start went disabled under it); when the run ends,
// its outcome takes it rather than Start, where an Enter would begin a new run over the unsaved adapter.

/** A window keydown handler: Escape cancels `run` from anywhere on the view, unless a control used it first. */
export function escapeCancels(run: { readonly running: unknown; readonly stopping: boolean; cancel(): void }): (event: KeyboardEvent) => void {
  return (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented || !run.running || run.stopping) return;
    event.preventDefault();
    run.cancel();
  };
}

/** An attachment for the Cancel button: focused while it exists; when it goes, `outcome()` takes the focus it held. */
export function focusWhileRunning(outcome: () => HTMLElement | undefined): (button: HTMLButtonElement) => () => void {
  return (button) => {
    button.focus();
    return () => {
      if (document.activeElement === button || document.activeElement === document.body) requestAnimationFrame(() => outcome()?.focus());
    };
  };
}
