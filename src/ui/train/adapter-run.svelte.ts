// What the page's two kinds of training run share (train-run.svelte.ts: SFT; ../grpo/grpo-run.svelte.ts:
// GRPO): the run in flight with its cancel and pause, the clock its pace reads, the stored record
// it logs to (run-log.ts, marked interrupted by the next page if this one goes), and the adapter it
// hands back — resident in the worker until used, saved to the browser, or selected for Expand.
import { messageOf } from '../../app/format.ts';
import { lab } from '../../app/lab.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, saveAdapter } from '../../data/adapters.ts';
import type { StoredAdapter, StoredRun } from '../../data/db.ts';
import { deleteTrainRun } from '../../data/train-runs.ts';
import { EngineError, type AdapterInfo } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { storedAdapters } from '../engine/stored-adapters.svelte.ts';
import { RunLog } from './run-log.ts';

/** What a run hands back: the trained adapter, in PEFT's files and as the worker holds it. */
interface TrainedAdapter {
  adapterConfig: Uint8Array<ArrayBuffer>;
  adapterWeights: Uint8Array<ArrayBuffer>;
  adapter: AdapterInfo;
}

/** How a run's stored record ends: with its result, or stopped / failed before one, with why. */
export interface RunEnd<R, Result> {
  done(record: R, result: Result): R;
  failed(record: R, status: 'stopped' | 'failed', note: string): R;
}

export abstract class AdapterRunState<R extends StoredRun, Result extends TrainedAdapter> {
  running = $state<AbortController | null>(null);
  /** Cancel was pressed for the run in flight (the abort itself is not reactive). */
  stopping = $state(false);
  /** Pause was pressed: the run ends after the step in flight, with its checkpoint. */
  pausing = $state(false);
  /** The stored runs of this kind, newest first (refreshRuns). */
  runs = $state.raw<R[]>([]);
  /** The stored record of the run in flight, or of this tab's last run. */
  record = $state.raw<R | null>(null);
  /** GPU memory in use when the last step ended (every buffer on ORT's device). */
  gpuBytes = $state<number | null>(null);
  /** performance.now() at Start, at the last step's end (or another mark of the pace), and now (ticking while running). */
  startedAt = $state(0);
  markAt = $state(0);
  clock = $state(0);
  /** Said when a run ended without a result for a reason that is not a failure (a cancel before step 1 ended). */
  notice = $state('');
  result = $state.raw<Result | null>(null);
  /** The base model the result was trained on. */
  model = $state<string | null>(null);
  saved = $state<StoredAdapter | null>(null);
  used = $state<string | null>(null);
  error = $state('');
  /** The loaded model (the engine's ModelInfo) the run trained on: while it stays loaded, the worker holds the trained adapter. */
  #trainedOn: unknown = null;
  #pause: AbortController | null = null;

  get elapsedSeconds(): number {
    return (this.clock - this.startedAt) / 1000;
  }

  /** Lists the stored runs of this kind, first marking interrupted those left running by a page that is gone. */
  abstract refreshRuns(): Promise<void>;

  /**
   * Runs `work` (the worker request) on the loaded model, logging to `record`: the last run's
   * unused adapter is unloaded first, the clock ticks meanwhile, and the record ends by `end`.
   * `begin` resets the subclass's own state as the run starts; `settle` hears the log once the run
   * is over, before the stored runs are listed again.
   */
  protected async runLoop(
    record: R,
    begin: () => void,
    work: (log: RunLog<R>, signals: { signal: AbortSignal; pause: AbortSignal }) => Promise<Result>,
    end: RunEnd<R, Result>,
    settle: (log: RunLog<R>) => void,
  ): Promise<void> {
    const model = engine.model!;
    // The last run's adapter is resident in the worker until it is used; a new run replaces it.
    const unused = this.result && !this.used ? this.result.adapter.id : null;
    if (unused) void engine.client.call({ type: 'unload-adapter', id: unused }).catch(() => {});
    this.#trainedOn = model;
    const log = new RunLog(await lab(), record, (r) => (this.record = r));
    this.record = record;
    const controller = new AbortController();
    const pause = (this.#pause = new AbortController());
    this.running = controller;
    const at = performance.now();
    Object.assign(this, { result: null, saved: null, used: null, notice: '', stopping: false, pausing: false, gpuBytes: null });
    Object.assign(this, { model: model.name, startedAt: at, markAt: at, clock: at });
    begin();
    const tick = setInterval(() => (this.clock = performance.now()), 1000);
    let ended: Promise<unknown> = Promise.resolve();
    try {
      await log.begin();
      void this.refreshRuns();
      const result = await work(log, { signal: controller.signal, pause: pause.signal });
      this.result = result;
      ended = log.end((r) => end.done(r, result));
    } catch (err) {
      const cancelled = err instanceof EngineError && err.code === 'cancelled';
      if (cancelled) this.notice = 'Cancelled before step 1 ended: nothing was trained.';
      else this.error = messageOf(err);
      ended = log.end((r) => end.failed(r, cancelled ? 'stopped' : 'failed', cancelled ? 'cancelled before step 1 ended' : messageOf(err)));
    } finally {
      clearInterval(tick);
      await ended.catch(() => {});
      if (log.failure) this.error = [this.error, `${log.failure}.`].filter(Boolean).join(' ');
      settle(log);
      Object.assign(this, { clock: performance.now(), running: null, stopping: false, pausing: false });
      this.#pause = null;
      await this.refreshRuns();
    }
  }

  /** Stops at the next safe point (a micro-batch or step boundary); a step cut short is discarded. */
  cancel(): void {
    if (!this.running || this.stopping) return;
    this.stopping = true;
    this.running.abort();
  }

  /** Ends the run after the step in flight, with that step's checkpoint: Resume continues it. */
  pause(): void {
    if (!this.running || this.stopping || this.pausing) return;
    this.pausing = true;
    this.#pause?.abort();
  }

  /** Deletes a stored run and its checkpoint (not the one in flight). */
  async deleteRun(id: string): Promise<void> {
    if (this.running && this.record?.id === id) return;
    try {
      await deleteTrainRun(await lab(), id);
      if (this.record?.id === id) this.record = null;
    } catch (err) {
      this.error = `could not delete the run: ${messageOf(err)}`;
    }
    await this.refreshRuns();
  }

  async save(name: string): Promise<void> {
    if (!this.result) return;
    this.error = '';
    try {
      this.saved = await saveAdapter(await lab(), { name, config: this.result.adapterConfig, weights: this.result.adapterWeights, checkedWith: this.model });
      if (this.used) storedAdapters.link(this.used, this.saved.id);
      await storedAdapters.refresh();
    } catch (err) {
      this.error = `could not save the adapter: ${messageOf(err)}`;
    }
  }

  /**
   * Selects the trained adapter for Expand: the worker kept it resident after the run, unless the
   * engine was restarted or the model reloaded since, when it is loaded from the result's files.
   */
  async use(name: string): Promise<void> {
    if (!this.result) return;
    const files = [new File([this.result.adapterConfig], ADAPTER_CONFIG), new File([this.result.adapterWeights], ADAPTER_WEIGHTS)];
    const source = { kind: 'files' as const, files, name };
    const { id } = this.result.adapter;
    if (engine.model && engine.model === this.#trainedOn) await engine.adoptAdapter({ ...this.result.adapter, name }, source);
    else if (!(await engine.loadAdapter(source, id, name))) return;
    this.used = id;
    if (this.saved) storedAdapters.link(id, this.saved.id);
  }
}
