// The page's one engine: the worker client and what the UI shows of it (model, adapters,
// progress, errors). Components read this state and call its actions; the worker does the work.
import { EngineClient } from '../../engine/client.ts';
import type {
  AdapterInfo,
  EngineErrorData,
  EngineEvent,
  GenerationResult,
  LoadBudget,
  MemoryReport,
  ModelInfo,
  ModelSource,
  SamplingRequest,
} from '../../engine/protocol.ts';
import { ENGINE_TEST_NAME, EngineError } from '../../engine/protocol.ts';
import type { Placements } from '../../engine/placement.ts';
import { HUB_BASE } from '../../model/hub/resolve.ts';
import { parseModelCatalog } from '../../model/hub/catalog.ts';
import catalogJson from '../../../configs/models.json';
import { messageOf } from '../../app/format.ts';

export const catalog = parseModelCatalog(catalogJson);

/**
 * Dev/test option: `?hub=http://127.0.0.1:PORT/models` in the page URL loads repos from a server
 * with the hub's URL layout (`<base>/<owner>/<name>/resolve/<revision>/<file>`) instead of huggingface.co.
 */
const hubParam = new URLSearchParams(location.search).get('hub');
export const hubBase = hubParam ?? HUB_BASE;
/** A page opened with ?hub= is a test or dev page: its worker accepts `debug` requests and `qmdEngine` is on window. */
export const testMode = hubParam !== null;

export type Progress = Extract<EngineEvent, { type: 'progress' }>;

export interface Generation {
  /** null: the base model. */
  adapter: string | null;
  text: string;
  ids: number[];
  tokensPerSecond: number;
  done: boolean;
  finish: GenerationResult['finish'] | null;
  error: string | null;
}

export const defaultSampling: SamplingRequest = {
  greedy: false,
  temperature: 0.7,
  topK: 0,
  topP: 1,
  seed: 0,
  maxNewTokens: 200,
};

class EngineState {
  model = $state<ModelInfo | null>(null);
  /** Load weights in float32 even where shader-f16 allows float16: twice the memory, but trainable. */
  float32 = $state(false);
  adapters = $state<AdapterInfo[]>([]);
  /** The adapter Expand runs with; null runs the base model. */
  selected = $state<string | null>(null);
  loading = $state<string | null>(null);
  progress = $state<Progress | null>(null);
  error = $state<EngineErrorData | null>(null);
  busy = $state(false);
  placements = $state<Placements | null>(null);
  sampling = $state<SamplingRequest>({ ...defaultSampling });
  /** What the model being loaded (or last loaded) takes on this GPU. */
  budget = $state<LoadBudget | null>(null);
  memory = $state<MemoryReport | null>(null);
  /** The worker crashed or lost its GPU: every model is gone until `reload()`. */
  failure = $state<EngineErrorData | null>(null);
  #client: EngineClient | null = null;
  #load: AbortController | null = null;
  /** What `reload()` loads again: the last model and the adapters loaded on it. */
  #lastModel: { source: ModelSource; label: string } | null = null;
  #adapterSources = new Map<string, ModelSource>();

  get client(): EngineClient {
    this.#client ??= new EngineClient(
      () =>
        new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), {
          type: 'module',
          name: testMode ? ENGINE_TEST_NAME : 'qmd-engine',
        }),
      (error) => this.#lost(error),
    );
    return this.#client;
  }

  #lost(error: EngineErrorData): void {
    this.model = null;
    this.adapters = [];
    this.selected = null;
    this.memory = null;
    this.error = error;
    this.failure = error;
  }

  get canReload(): boolean {
    return this.#lastModel !== null;
  }

  /** A fresh worker, then the last model and its adapters loaded again (from the cache when they came from a hub). */
  async reload(): Promise<void> {
    const last = this.#lastModel;
    const adapters = [...this.#adapterSources];
    this.client.restart();
    this.failure = null;
    this.error = null;
    if (!last) return;
    await this.loadModel(last.source, last.label);
    for (const [id, source] of adapters) if (this.model) await this.loadAdapter(source, id);
  }

  async refreshMemory(): Promise<void> {
    try {
      this.memory = await this.client.call({ type: 'memory' });
    } catch (error) {
      this.#report(error);
    }
  }

  #onLoadEvent = (event: EngineEvent) => {
    if (event.type === 'progress') this.progress = event;
    else if (event.type === 'estimate') this.budget = event.budget;
  };

  #report(error: unknown): void {
    this.error =
      error instanceof EngineError ? { code: error.code, message: error.message } : { code: 'internal', message: String(error) };
  }

  async #loading<T>(label: string, work: (signal: AbortSignal) => Promise<T>): Promise<T | null> {
    this.#load?.abort();
    const controller = new AbortController();
    this.#load = controller;
    this.loading = label;
    this.progress = null;
    this.error = null;
    try {
      return await work(controller.signal);
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'cancelled')) this.#report(error);
      return null;
    } finally {
      if (this.#load === controller) {
        this.loading = null;
        this.progress = null;
        this.#load = null;
      }
    }
  }

  cancelLoad(): void {
    this.#load?.abort();
  }

  async loadModel(source: ModelSource, label: string): Promise<void> {
    this.model = null;
    this.adapters = [];
    this.selected = null;
    this.placements = null;
    this.budget = null;
    this.memory = null;
    this.#lastModel = { source, label };
    this.#adapterSources.clear();
    const float32 = this.float32;
    const info = await this.#loading(label, (signal) => this.client.call({ type: 'load-model', source, float32 }, { signal, onEvent: this.#onLoadEvent }));
    if (!info) return;
    this.model = info;
    await this.refreshMemory();
  }

  /** Loads an adapter on the model and selects it; null when it failed (the reason is in `error`). */
  async loadAdapter(source: ModelSource, id: string, label = id): Promise<AdapterInfo | null> {
    const info = await this.#loading(label, (signal) =>
      this.client.call({ type: 'load-adapter', id, source }, { signal, onEvent: this.#onLoadEvent }),
    );
    if (!info) return null;
    this.#adapterSources.set(id, source);
    this.adapters = [...this.adapters.filter((a) => a.id !== id), info];
    this.selected = id;
    return info;
  }

  /** Where a loaded adapter came from (to save its files in the browser). */
  adapterSource(id: string): ModelSource | undefined {
    return this.#adapterSources.get(id);
  }

  async removeAdapter(id: string): Promise<void> {
    await this.client.call({ type: 'unload-adapter', id });
    this.#adapterSources.delete(id);
    this.adapters = this.adapters.filter((a) => a.id !== id);
    if (this.selected === id) this.selected = null;
  }

  async checkPlacements(): Promise<void> {
    try {
      this.placements = await this.client.call({ type: 'placements' });
    } catch (error) {
      this.#report(error);
    }
  }

  /** Generates for `query` with `adapter`, calling `onUpdate` with the growing text. */
  async generate(query: string, adapter: string | null, onUpdate: (g: Generation) => void, signal?: AbortSignal): Promise<Generation> {
    const g: Generation = { adapter, text: '', ids: [], tokensPerSecond: 0, done: false, finish: null, error: null };
    const onEvent = (event: EngineEvent) => {
      if (event.type !== 'token') return;
      g.text += event.text;
      g.ids = [...g.ids, event.id];
      g.tokensPerSecond = event.tokensPerSecond;
      onUpdate({ ...g });
    };
    try {
      const result = await this.client.call({ type: 'generate', query, adapter, sampling: { ...this.sampling } }, { signal, onEvent });
      Object.assign(g, { text: result.text, ids: result.ids, finish: result.finish, tokensPerSecond: result.tokensPerSecond });
    } catch (error) {
      g.error = messageOf(error);
      if (!(error instanceof EngineError && error.code === 'cancelled')) this.#report(error);
    }
    g.done = true;
    onUpdate({ ...g });
    if (!this.failure) await this.refreshMemory();
    return g;
  }
}

export const engine = new EngineState();
if (testMode) Object.assign(globalThis, { qmdEngine: engine });
