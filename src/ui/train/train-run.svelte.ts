// The page's training runs: settings, the run in flight (which survives switching pages; a reload
// leaves it interrupted, to resume from its last checkpoint), its steps, sub-progress, pace and
// result, the stored runs (data/train-runs.ts), and saving or using the trained adapter.
import { formatDate, messageOf } from '../../app/format.ts';
import { lab } from '../../app/lab.ts';
import { runLocked } from '../../app/run-lock.ts';
import { outcomeLine, trainPace, type RunPhase, type TrainPace } from '../../app/train-progress.ts';
import { trainingRows } from '../../app/train-run.ts';
import type { TrainRunRecord } from '../../data/db.ts';
import { getDataset } from '../../data/store.ts';
import { endedRecord, getTrainRun, listTrainRuns, markInterrupted, readTrainCheckpoint, resumedRecord, resumeRefusal } from '../../data/train-runs.ts';
import type { TrainingCheckpoint } from '../../engine/checkpoint.ts';
import type { EngineEvent, TrainProgress, TrainResult, TrainStep } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { AdapterRunState } from './adapter-run.svelte.ts';
import type { RunLog } from './run-log.ts';
import { cadenceOf, loadSettings, settingsProblem, storeSettings, type TrainSettings } from './settings.ts';

/** A graph the run built: what it computes, when ("step 1", "validation") and how long it took. */
export interface BuiltGraph {
  graph: string;
  during: string;
  buildSeconds: number;
  sessionSeconds: number;
}

class TrainRunState extends AdapterRunState<TrainRunRecord, TrainResult> {
  settings = $state(loadSettings());
  datasetId = $state<string | null>(null);
  /** 'rows': reading the dataset; then the worker's phases. */
  phase = $state<RunPhase | null>(null);
  /** The worker's latest sub-progress within the phase. */
  progress = $state<TrainProgress | null>(null);
  graphs = $state<BuiltGraph[]>([]);
  steps = $state<TrainStep[]>([]);
  /** The settings the run in flight (or the last run) started with. */
  runSettings = $state<TrainSettings | null>(null);
  /** Micro-batches in a step as the worker runs them (fewer than grad accum when an epoch has fewer batches). */
  microBatches = $state(1);
  rows = $state<{ train: number; validation: number } | null>(null);

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
      this.error = `could not read the stored training runs: ${messageOf(err)}`;
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
    await this.runLoop(
      record,
      () => Object.assign(this, { steps: record.metrics, graphs: [], progress: null, rows: null, phase: 'rows', runSettings: settings, microBatches: 1 }),
      async (log, { signal, pause }) => {
        const { config, maxSteps, checkpointEvery, validateEvery, sampleEvery, sampleQueries } = record.settings;
        // The dataset's own validation part (Datasets page) is the only hold-out.
        const parts = await trainingRows(await lab(), record.dataset.id);
        this.rows = { train: parts.train.length, validation: parts.validation.length };
        return engine.client.call(
          {
            type: 'train', ...parts, config, maxSteps, adapterId: `trained:${crypto.randomUUID()}`, resume: checkpoint,
            checkpointEvery, validateEvery: validateEvery ?? undefined, sampleEvery: sampleEvery ?? undefined, sampleQueries,
          },
          {
            signal,
            pause,
            onEvent: (event) => this.#receive(event, log),
            // The checkpoint was read from IndexedDB for this call alone.
            transfer: checkpoint ? Object.values(checkpoint.state.tensors).map((t) => t.buffer) : [],
          },
        );
      },
      {
        done: (r, result) => endedRecord(r, result.halt ? 'failed' : result.paused ? 'paused' : result.stopped ? 'stopped' : 'finished', result.halt ?? outcomeLine(result), result.validationLoss),
        failed: (r, status, note) => endedRecord(r, status, note),
      },
      (log) => Object.assign(this, { steps: log.record.metrics, phase: null, progress: null }),
    );
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

}

export const trainRun = new TrainRunState();
