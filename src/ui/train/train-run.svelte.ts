// The page's training run: settings, the run in flight (which survives switching pages but not
// a reload), its steps and result, and saving or using the trained adapter.
import { lab } from '../../app/lab.ts';
import { trainingRows } from '../../app/train-run.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, saveAdapter } from '../../data/adapters.ts';
import type { StoredAdapter } from '../../data/db.ts';
import { EngineError, type TrainPhase, type TrainResult, type TrainStep } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { storedAdapters } from '../engine/stored-adapters.svelte.ts';
import { loadSettings, settingsProblem, storeSettings } from './settings.ts';

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

class TrainRunState {
  settings = $state(loadSettings());
  datasetId = $state<string | null>(null);
  running = $state<AbortController | null>(null);
  /** 'rows': reading the dataset; then the worker's phases. */
  phase = $state<'rows' | TrainPhase | 'steps' | null>(null);
  steps = $state<TrainStep[]>([]);
  rows = $state<{ train: number; validation: number } | null>(null);
  result = $state<TrainResult | null>(null);
  /** The base model the result was trained on. */
  model = $state<string | null>(null);
  saved = $state<StoredAdapter | null>(null);
  used = $state<string | null>(null);
  error = $state('');

  get stopping(): boolean {
    return this.running?.signal.aborted ?? false;
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
    Object.assign(this, { steps: [], result: null, saved: null, used: null, rows: null, model: model.name, phase: 'rows' });
    try {
      const { config, maxSteps } = settings;
      const parts = await trainingRows(await lab(), datasetId, { ratio: config.eval.split, seed: config.eval.seed });
      this.rows = { train: parts.train.length, validation: parts.validation.length };
      this.result = await engine.client.call(
        { type: 'train', ...parts, config, maxSteps },
        {
          signal: controller.signal,
          onEvent: (event) => {
            if (event.type === 'train-step') {
              this.steps = [...this.steps, event.step];
              this.phase = 'steps';
            } else if (event.type === 'train-phase') this.phase = event.phase;
          },
        },
      );
    } catch (err) {
      this.error = err instanceof EngineError && err.code === 'cancelled' ? 'Cancelled before the first step ended; nothing was trained.' : message(err);
    } finally {
      this.running = null;
      this.phase = null;
    }
  }

  /** Stops after the step in flight; the run still validates and hands back the adapter. */
  cancel(): void {
    this.running?.abort();
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
      await storedAdapters.refresh();
    } catch (err) {
      this.error = `could not save the adapter: ${message(err)}`;
    }
  }

  /** Loads the trained adapter into the engine and selects it for Expand. */
  async use(name: string): Promise<void> {
    if (!this.result) return;
    const id = `trained:${crypto.randomUUID()}`;
    if (await engine.loadAdapter({ kind: 'files', files: this.#files(), name }, id, name)) this.used = id;
  }
}

export const trainRun = new TrainRunState();
