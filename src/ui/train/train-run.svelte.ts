// The page's training runs: settings, the run in flight (which survives switching pages; a reload
// leaves it interrupted, to resume from its last checkpoint), its steps, sub-progress, pace and
// result, the stored runs (data/train-runs.ts), and saving or using the trained adapter.
import { formatDate } from '../../app/format.ts';
import { lab } from '../../app/lab.ts';
import { runLocked } from '../../app/run-lock.ts';
import { outcomeLine, trainPace, type RunPhase, type TrainPace } from '../../app/train-progress.ts';
import { trainingRows } from '../../app/train-run.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, saveAdapter } from '../../data/adapters.ts';
import type { StoredAdapter, TrainRunRecord } from '../../data/db.ts';
import { getDataset } from '../../data/store.ts';
import { deleteTrainRun, endedRecord, getTrainRun, listTrainRuns, markInterrupted, readTrainCheckpoint, resumedRecord, resumeRefusal } from '../../data/train-runs.ts';
import type { TrainingCheckpoint } from '../../engine/checkpoint.ts';
import { EngineError, type EngineEvent, type TrainProgress, type TrainResult, type TrainStep } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { storedAdapters } from '../engine/stored-adapters.svelte.ts';
import { RunLog } from './run-log.ts';
import { cadenceOf, loadSettings, settingsProblem, storeSettings, type TrainSettings } from './settings.ts';

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A graph the run built: what it computes, when ("step 1", "validation") and how long it took. */
export interface BuiltGraph {
  graph: string;
  during: string;
  buildSeconds: number;
  sessionSeconds: number;
}

class TrainRunState {
  settings = $state(loadSettings());
  datasetId = $state<string | null>(null);
  running = $state<AbortController | null>(null);
  /** Cancel was pressed for the run in flight (the abort itself is not reactive). */
  stopping = $state(false);
  /** Pause was pressed: the run ends after the step in flight, with its checkpoint. */
  pausing = $state(false);
  /** The stored runs, newest first (refreshRuns). */
  runs = $state.raw<TrainRunRecord[]>([]);
  /** The stored record of the run in flight, or of this tab's last run. */
  record = $state.raw<TrainRunRecord | null>(null);
  /** GPU memory in use when the last step ended (every buffer on ORT's device). */
  gpuBytes = $state<number | null>(null);
  /** 'rows': reading the dataset; then the worker's phases. */
  phase = $state<RunPhase | null>(null);
  /** The worker's latest sub-progress within the phase. */
  progress = $state<TrainProgress | null>(null);
  graphs = $state<BuiltGraph[]>([]);
  steps = $state<TrainStep[]>([]);
  /** performance.now() at Start, at the last step's end or validation batch's start, and now (ticking while running). */
  startedAt = $state(0);
  markAt = $state(0);
  clock = $state(0);
  /** The settings the run in flight (or the last run) started with. */
  runSettings = $state<TrainSettings | null>(null);
  /** Micro-batches in a step as the worker runs them (fewer than grad accum when an epoch has fewer batches). */
  microBatches = $state(1);
  /** Said when a run ended without a result for a reason that is not a failure (a cancel before step 1 ended). */
  notice = $state('');
  rows = $state<{ train: number; validation: number } | null>(null);
  result = $state<TrainResult | null>(null);
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

  get pace(): TrainPace | null {
    const c = this.runSettings?.config.training;
    if (!c) return null;
    const p = this.progress;
    const validationBatches =
      p?.kind === 'validation' ? p.of - p.index + 1 : this.phase === 'export' ? 0 : Math.ceil((this.rows?.validation ?? 0) / c.batchSize);
    return trainPace(this.steps, { sinceMark: (this.clock - this.markAt) / 1000, validationBatches, microBatchesPerStep: this.microBatches });
  }

  keepSettings(): void {
    storeSettings($state.snapshot(this.settings));
  }

  /** Lists the stored runs, first marking interrupted those left running by a page that is gone. */
  async refreshRuns(): Promise<void> {
    try {
      const db = await lab();
      await markInterrupted(db, async (id) => (this.running !== null && this.record?.id === id) || (await runLocked(id)));
      this.runs = await listTrainRuns(db);
    } catch (err) {
      this.error = `could not read the stored training runs: ${message(err)}`;
    }
  }

  /** Starts a new run with the form's settings on the selected dataset. */
  async start(): Promise<void> {
    const model = engine.model;
    const datasetId = this.datasetId;
    if (this.running || !model || !datasetId) return;
    const settings = $state.snapshot(this.settings);
    const problem = settingsProblem(settings);
    this.error = problem ?? '';
    if (problem) return;
    this.keepSettings();
    const { config, maxSteps } = settings;
    const meta = await getDataset(await lab(), datasetId);
    const now = Date.now();
    await this.#run(settings, {
      id: crypto.randomUUID(), status: 'running', model: model.name, dataset: { id: datasetId, name: meta?.name ?? datasetId },
      settings: { config, maxSteps, ...cadenceOf(settings) }, started: now, updated: now,
      totalSteps: null, metrics: [], checkpointStep: null, validationLoss: null, note: '',
    });
  }

  /**
   * Continues stored run `id` from its checkpoint, with the settings and dataset it started with,
   * on the loaded model (which must be the run's: resumeRefusal names what differs).
   */
  async resume(id: string): Promise<void> {
    if (this.running) return;
    this.error = '';
    const db = await lab();
    const [run, checkpoint] = await Promise.all([getTrainRun(db, id), readTrainCheckpoint(db, id)]);
    if (!run) return void (this.error = 'that run is no longer stored');
    const datasetStored = (await getDataset(db, run.dataset.id)) !== undefined;
    const problem = resumeRefusal(run, checkpoint, { model: engine.model?.name ?? null, datasetStored });
    if (problem) return void (this.error = `Cannot resume the run started ${formatDate(run.started)}: ${problem}.`);
    const settings: TrainSettings = { ...$state.snapshot(this.settings), ...run.settings };
    await this.#run(settings, resumedRecord(run, checkpoint!), checkpoint!);
  }

  async #run(settings: TrainSettings, record: TrainRunRecord, checkpoint?: TrainingCheckpoint): Promise<void> {
    const model = engine.model!;
    // The last run's adapter is resident in the worker until it is used; a new run replaces it.
    const unused = this.result && !this.used ? this.result.adapter.id : null;
    if (unused) void engine.client.call({ type: 'unload-adapter', id: unused }).catch(() => {});
    this.#trainedOn = model;
    const db = await lab();
    const log = new RunLog(db, record, (r) => (this.record = r));
    this.record = record;
    const controller = new AbortController();
    this.#pause = new AbortController();
    this.running = controller;
    const at = performance.now();
    Object.assign(this, { steps: record.metrics, graphs: [], progress: null, result: null, saved: null, used: null, rows: null, notice: '', stopping: false, pausing: false, gpuBytes: null });
    Object.assign(this, { model: model.name, phase: 'rows', runSettings: settings, microBatches: 1, startedAt: at, markAt: at, clock: at });
    const tick = setInterval(() => (this.clock = performance.now()), 1000);
    let ended: Promise<unknown> = Promise.resolve();
    try {
      await log.begin();
      void this.refreshRuns();
      const { config, maxSteps, checkpointEvery, validateEvery, sampleEvery, sampleQueries } = record.settings;
      // The dataset's own validation part (Datasets page) is the only hold-out.
      const parts = await trainingRows(db, record.dataset.id);
      this.rows = { train: parts.train.length, validation: parts.validation.length };
      const result = await engine.client.call(
        {
          type: 'train', ...parts, config, maxSteps, adapterId: `trained:${crypto.randomUUID()}`, resume: checkpoint,
          checkpointEvery, validateEvery: validateEvery ?? undefined, sampleEvery: sampleEvery ?? undefined, sampleQueries,
        },
        {
          signal: controller.signal,
          pause: this.#pause.signal,
          onEvent: (event) => this.#receive(event, log),
          // The checkpoint was read from IndexedDB for this call alone.
          transfer: checkpoint ? Object.values(checkpoint.state.tensors).map((t) => t.buffer) : [],
        },
      );
      this.result = result;
      const status = result.halt ? 'failed' : result.paused ? 'paused' : result.stopped ? 'stopped' : 'finished';
      ended = log.end((r) => endedRecord(r, status, result.halt ?? outcomeLine(result), result.validationLoss));
    } catch (err) {
      const cancelled = err instanceof EngineError && err.code === 'cancelled';
      if (cancelled) this.notice = 'Cancelled before step 1 ended: nothing was trained.';
      else this.error = message(err);
      ended = log.end((r) => endedRecord(r, cancelled ? 'stopped' : 'failed', cancelled ? 'cancelled before step 1 ended' : message(err)));
    } finally {
      clearInterval(tick);
      await ended.catch(() => {});
      if (log.failure) this.error = [this.error, `${log.failure}.`].filter(Boolean).join(' ');
      this.steps = log.record.metrics;
      this.clock = performance.now();
      this.running = null;
      this.#pause = null;
      this.phase = null;
      this.progress = null;
      this.stopping = false;
      this.pausing = false;
      await this.refreshRuns();
    }
  }

  #receive(event: EngineEvent, log: RunLog<TrainRunRecord>): void {
    const now = performance.now();
    this.clock = now;
    if (event.type === 'train-step') {
      log.step(event.step);
      this.steps = log.record.metrics;
      Object.assign(this, { phase: 'steps', progress: null, markAt: now, gpuBytes: event.gpuBytes ?? null });
    } else if (event.type === 'train-checkpoint') {
      log.checkpoint(event.checkpoint);
    } else if (event.type === 'train-phase') {
      Object.assign(this, { phase: event.phase, progress: null });
    } else if (event.type === 'train-progress') {
      const p = event.progress;
      this.progress = p;
      if (p.kind === 'validation') this.markAt = now;
      if (p.kind === 'micro-batch') this.microBatches = Math.max(this.microBatches, p.of);
      if (p.kind === 'graph' && p.stage === 'ready') {
        const during = this.phase === 'validation' ? 'validation' : `step ${this.steps.length + 1}`;
        this.graphs = [...this.graphs, { graph: p.graph, during, buildSeconds: p.buildSeconds ?? 0, sessionSeconds: p.sessionSeconds ?? 0 }];
      }
    }
  }

  /**
   * Stops at the next micro-batch boundary: a step cut short is discarded and the validation pass
   * skipped; the run hands back the adapter of the last completed step.
   */
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
      this.error = `could not delete the run: ${message(err)}`;
    }
    await this.refreshRuns();
  }

  #files(): File[] {
    const result = this.result!;
    return [new File([result.adapterConfig], ADAPTER_CONFIG), new File([result.adapterWeights], ADAPTER_WEIGHTS)];
  }

  async save(name: string): Promise<void> {
    if (!this.result) return;
    this.error = '';
    try {
      this.saved = await saveAdapter(await lab(), { name, config: this.result.adapterConfig, weights: this.result.adapterWeights, checkedWith: this.model });
      if (this.used) storedAdapters.link(this.used, this.saved.id);
      await storedAdapters.refresh();
    } catch (err) {
      this.error = `could not save the adapter: ${message(err)}`;
    }
  }

  /**
   * Selects the trained adapter for Expand: the worker kept it resident after the run, unless the
   * engine was restarted or the model reloaded since, when it is loaded from the result's files.
   */
  async use(name: string): Promise<void> {
    if (!this.result) return;
    const source = { kind: 'files' as const, files: this.#files(), name };
    const { id } = this.result.adapter;
    if (engine.model && engine.model === this.#trainedOn) await engine.adoptAdapter({ ...this.result.adapter, name }, source);
    else if (!(await engine.loadAdapter(source, id, name))) return;
    this.used = id;
    if (this.saved) storedAdapters.link(id, this.saved.id);
  }
}

export const trainRun = new TrainRunState();
