// The page's one engine: the worker client and what the UI shows of it (model, adapters,
// progress, errors). Components read this state and call its actions; the worker does the work.
import { EngineClient } from '../../engine/client.ts';
import type {
  AdapterInfo,
  EngineErrorData,
  EngineEvent,
  GenerationResult,
  ModelInfo,
  ModelSource,
  SamplingRequest,
} from '../../engine/protocol.ts';
import { EngineError } from '../../engine/protocol.ts';
import type { Placements } from '../../engine/placement.ts';
import { HUB_BASE } from '../../model/hub/resolve.ts';
import { parseModelCatalog } from '../../model/hub/catalog.ts';
import catalogJson from '../../../configs/models.json';

export const catalog = parseModelCatalog(catalogJson);

/**
 * Dev/test option: `?hub=http://127.0.0.1:PORT/models` in the page URL loads repos from a server
 * with the hub's URL layout (`<base>/<owner>/<name>/resolve/<revision>/<file>`) instead of huggingface.co.
 */
export const hubBase = new URLSearchParams(location.search).get('hub') ?? HUB_BASE;

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
  adapters = $state<AdapterInfo[]>([]);
  /** The adapter Expand runs with; null runs the base model. */
  selected = $state<string | null>(null);
  loading = $state<string | null>(null);
  progress = $state<Progress | null>(null);
  error = $state<EngineErrorData | null>(null);
  busy = $state(false);
  placements = $state<Placements | null>(null);
  sampling = $state<SamplingRequest>({ ...defaultSampling });
  #client: EngineClient | null = null;
  #load: AbortController | null = null;

  get client(): EngineClient {
    this.#client ??= new EngineClient(
      () => new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), { type: 'module' }),
      (error) => this.#lost(error),
    );
    return this.#client;
  }

  #lost(error: EngineErrorData): void {
    this.model = null;
    this.adapters = [];
    this.selected = null;
    this.error = error;
  }

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
    const info = await this.#loading(label, (signal) =>
      this.client.call({ type: 'load-model', source }, { signal, onEvent: (e) => e.type === 'progress' && (this.progress = e) }),
    );
    if (info) this.model = info;
  }

  async loadAdapter(source: ModelSource, id: string): Promise<void> {
    const info = await this.#loading(id, (signal) =>
      this.client.call({ type: 'load-adapter', id, source }, { signal, onEvent: (e) => e.type === 'progress' && (this.progress = e) }),
    );
    if (!info) return;
    this.adapters = [...this.adapters.filter((a) => a.id !== id), info];
    this.selected = id;
  }

  async removeAdapter(id: string): Promise<void> {
    await this.client.call({ type: 'unload-adapter', id });
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
      g.error = error instanceof Error ? error.message : String(error);
      if (!(error instanceof EngineError && error.code === 'cancelled')) this.#report(error);
    }
    g.done = true;
    onUpdate({ ...g });
    return g;
  }
}

export const engine = new EngineState();
