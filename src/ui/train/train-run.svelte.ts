// The page's training run: settings, the run in flight (which survives switching pages but not
// a reload), its steps, sub-progress, pace and result, and saving or using the trained adapter.
import { lab } from '../../app/lab.ts';
import { trainPace, type RunPhase, type TrainPace } from '../../app/train-progress.ts';
import { trainingRows } from '../../app/train-run.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, saveAdapter } from '../../data/adapters.ts';
import type { StoredAdapter } from '../../data/db.ts';
import { EngineError, type EngineEvent, type TrainProgress, type TrainResult, type TrainStep } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { storedAdapters } from '../engine/stored-adapters.svelte.ts';
import { loadSettings, settingsProblem, storeSettings, type TrainSettings } from './settings.ts';

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

  async start(): Promise<void> {
    const model = engine.model;
    const datasetId = this.datasetId;
    if (this.running || !model || !datasetId) return;
    const settings = $state.snapshot(this.settings);
    const problem = settingsProblem(settings);
    this.error = problem ?? '';
    if (problem) return;
    this.keepSettings();
    const controller = new AbortController();
    this.running = controller;
    const at = performance.now();
    Object.assign(this, { steps: [], graphs: [], progress: null, result: null, saved: null, used: null, rows: null, notice: '', stopping: false });
    Object.assign(this, { model: model.name, phase: 'rows', runSettings: settings, microBatches: 1, startedAt: at, markAt: at, clock: at });
    const tick = setInterval(() => (this.clock = performance.now()), 1000);
    try {
      const { config, maxSteps } = settings;
      // The dataset's own validation part (Datasets page) is the only hold-out.
      const parts = await trainingRows(await lab(), datasetId);
      this.rows = { train: parts.train.length, validation: parts.validation.length };
      this.result = await engine.client.call(
        { type: 'train', ...parts, config, maxSteps },
        {
          signal: controller.signal,
          onEvent: (event) => this.#receive(event),
        },
      );
    } catch (err) {
      if (err instanceof EngineError && err.code === 'cancelled') this.notice = 'Cancelled before step 1 ended: nothing was trained.';
      else this.error = message(err);
    } finally {
      clearInterval(tick);
      this.clock = performance.now();
      this.running = null;
      this.phase = null;
      this.progress = null;
      this.stopping = false;
    }
  }

  #receive(event: EngineEvent): void {
    const now = performance.now();
    this.clock = now;
    if (event.type === 'train-step') {
      this.steps = [...this.steps, event.step];
      Object.assign(this, { phase: 'steps', progress: null, markAt: now });
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

  /** Loads the trained adapter into the engine and selects it for Expand. */
  async use(name: string): Promise<void> {
    if (!this.result) return;
    const id = `trained:${crypto.randomUUID()}`;
    if (!(await engine.loadAdapter({ kind: 'files', files: this.#files(), name }, id, name))) return;
    this.used = id;
    if (this.saved) storedAdapters.link(id, this.saved.id);
  }
}

export const trainRun = new TrainRunState();
