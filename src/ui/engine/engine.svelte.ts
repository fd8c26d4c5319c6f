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
import { defaultSamplingRequest, ENGINE_TEST_NAME, EngineError } from '../../engine/protocol.ts';
import type { Placements } from '../../engine/placement.ts';
import { OpfsCache } from '../../model/hub/opfs-cache.ts';
import type { LoadDtype } from '../../model/hub/estimate.ts';
import { HUB_BASE } from '../../model/hub/resolve.ts';
import { parseModelCatalog } from '../../model/hub/catalog.ts';
import catalogJson from '../../../configs/models.json';
import { messageOf } from '../../app/format.ts';
import { holdUnload } from '../../app/unload-guard.ts';
import { recallAdapters, rememberAdapters, restorableAdapter, type RestorableAdapter } from './adapter-memory.ts';
import { loadModelRequest, type ChosenFormat, type PromptChoice } from './prompt-choice.ts';

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

/** What failed: a later success of the same kind clears its error. */
type Action = 'load' | 'generate' | 'memory' | 'placements';

/** Adapters that were loaded on this base before a reload (adapter-memory.ts), offered to load again. */
export interface RestoreOffer {
  adapters: RestorableAdapter[];
  /** Names of those that cannot be restored (picked folders, unsaved trained adapters). */
  lost: string[];
  selected: string | null;
}

class EngineState {
  model = $state<ModelInfo | null>(null);
  /**
   * The weights' layout of the next load: f16 (float32 where the GPU lacks shader-f16), f32 (the
   * checkpoint's numbers exactly, twice f16's memory), q4 (4-bit matrices, ~1/3 of f16, inference only),
   * or q4f16 (q4's codes, float16 activations and KV cache; q4 without shader-f16).
   */
  weights = $state<LoadDtype>('f16');
  /** The prompt format the next load asks its model in: the catalog's for a listed repo, or one picked. */
  promptChoice = $state<PromptChoice>('catalog');
  /** Why the loaded model runs with its format (model.promptFormat). */
  formatFrom = $state<ChosenFormat['from'] | null>(null);
  adapters = $state<AdapterInfo[]>([]);
  /** The adapter Expand runs with; null runs the base model. */
  selected = $state<string | null>(null);
  loading = $state<string | null>(null);
  progress = $state<Progress | null>(null);
  error = $state<EngineErrorData | null>(null);
  busy = $state(false);
  placements = $state<Placements | null>(null);
  sampling = $state<SamplingRequest>({ ...defaultSamplingRequest });
  /** What the model being loaded (or last loaded) takes on this GPU. */
  budget = $state<LoadBudget | null>(null);
  memory = $state<MemoryReport | null>(null);
  /** The worker crashed or lost its GPU: every model is gone until `reload()`. */
  failure = $state<EngineErrorData | null>(null);
  restoreOffer = $state<RestoreOffer | null>(null);
  #client: EngineClient | null = null;
  #load: AbortController | null = null;
  #errorAction: Action | null = null;
  /** What failed with the current error, to run again once its damaged files are deleted. */
  #retry: (() => Promise<unknown>) | null = null;
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
    this.#clearError();
    if (!last) return;
    await this.loadModel(last.source, last.label);
    for (const [id, source] of adapters) if (this.model) await this.loadAdapter(source, id);
    this.restoreOffer = null;
    this.#remember();
  }

  async refreshMemory(): Promise<void> {
    try {
      this.memory = await this.client.call({ type: 'memory' });
      this.#succeeded('memory');
    } catch (error) {
      this.#report(error, 'memory');
    }
  }

  #onLoadEvent = (event: EngineEvent) => {
    if (event.type === 'progress') this.progress = event;
    else if (event.type === 'estimate') this.budget = event.budget;
  };

  #report(error: unknown, action: Action, retry: (() => Promise<unknown>) | null = null): void {
    this.error = error instanceof EngineError ? error.data() : { code: 'internal', message: messageOf(error) };
    this.#errorAction = action;
    this.#retry = retry;
  }

  #succeeded(action: Action): void {
    if (this.#errorAction === action) this.#clearError();
  }

  #clearError(): void {
    this.error = null;
    this.#errorAction = null;
    this.#retry = null;
  }

  async #loading<T>(label: string, work: (signal: AbortSignal) => Promise<T>, retry: () => Promise<unknown>): Promise<T | null> {
    this.#load?.abort();
    const controller = new AbortController();
    this.#load = controller;
    this.loading = label;
    this.progress = null;
    this.#clearError();
    const release = holdUnload(`loading ${label}`);
    try {
      const result = await work(controller.signal);
      this.#succeeded('load');
      return result;
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'cancelled')) this.#report(error, 'load', retry);
      return null;
    } finally {
      release();
      if (this.#load === controller) {
        this.loading = null;
        this.progress = null;
        this.#load = null;
      }
    }
  }

  /** Deletes the cached files the current error names as damaged, then runs the failed load again (downloading them afresh). */
  async refetchDamaged(): Promise<void> {
    const damaged = this.error?.damaged ?? [];
    const retry = this.#retry;
    if (!damaged.length || !retry) return;
    try {
      const cache = new OpfsCache();
      for (const key of damaged) await cache.delete(key);
    } catch (error) {
      this.#report(error, 'load', retry);
      return;
    }
    await retry();
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
    this.restoreOffer = null;
    const { request, format } = loadModelRequest(catalog, source, { weights: this.weights, choice: this.promptChoice });
    const info = await this.#loading(
      label,
      (signal) => this.client.call(request, { signal, onEvent: this.#onLoadEvent }),
      () => this.loadModel(source, label),
    );
    if (!info) return;
    this.model = info;
    this.formatFrom = format.from;
    this.#offerRestore(info.name);
    await this.refreshMemory();
  }

  /** Loads an adapter on the model and selects it; null when it failed (the reason is in `error`). */
  async loadAdapter(source: ModelSource, id: string, label = id): Promise<AdapterInfo | null> {
    const info = await this.#loading(
      label,
      (signal) => this.client.call({ type: 'load-adapter', id, source }, { signal, onEvent: this.#onLoadEvent }),
      () => this.loadAdapter(source, id, label),
    );
    if (!info) return null;
    await this.adoptAdapter(info, source);
    return info;
  }

  /** Lists and selects an adapter the worker already holds (one it trained); `source` loads it again after a restart. */
  async adoptAdapter(info: AdapterInfo, source: ModelSource): Promise<void> {
    this.#adapterSources.set(info.id, source);
    this.adapters = [...this.adapters.filter((a) => a.id !== info.id), info];
    this.selected = info.id;
    this.#remember();
    await this.refreshMemory();
  }

  // What was loaded on `base` before (a page reload, or the base loaded again) is offered once it loads.
  #offerRestore(base: string): void {
    const record = recallAdapters(localStorage);
    if (record?.base === base && (record.adapters.length || record.lost.length)) {
      this.restoreOffer = { adapters: record.adapters, lost: record.lost, selected: record.selected };
    } else this.#remember();
  }

  /** Keeps the loaded adapters (and those still offered for restoring) for the next reload. */
  #remember(): void {
    if (!this.model) return;
    const loaded = this.adapters.map((a) => ({ a, restorable: restorableAdapter(a.id, a.name, this.#adapterSources.get(a.id)!) }));
    const offered = (this.restoreOffer?.adapters ?? []).filter((o) => !this.adapters.some((a) => a.id === o.id));
    rememberAdapters(localStorage, {
      base: this.model.name,
      adapters: [...loaded.flatMap(({ restorable }) => (restorable ? [restorable] : [])), ...offered],
      lost: [...loaded.filter(({ restorable }) => !restorable).map(({ a }) => a.name), ...(this.restoreOffer?.lost ?? [])],
      selected: this.selected,
    });
  }

  /**
   * Loads the offered adapters again: hub repos here (from the download cache), stored ones through
   * `loadStored` (stored-adapters.svelte.ts, false when the stored adapter is gone); then selects
   * what was selected.
   */
  async restoreAdapters(loadStored: (storedId: string) => Promise<boolean>): Promise<void> {
    // A snapshot: the sources go to the worker, which cannot receive the state's proxies.
    const offer = $state.snapshot(this.restoreOffer);
    if (!offer || !this.model) return;
    for (const adapter of offer.adapters) {
      if (!this.model) break;
      if (adapter.from.kind === 'hub') await this.loadAdapter(adapter.from, adapter.id, adapter.label);
      else await loadStored(adapter.from.storedId);
    }
    if (offer.selected === null || this.adapters.some((a) => a.id === offer.selected)) this.selected = offer.selected;
    this.restoreOffer = null;
    this.#remember();
  }

  dismissRestore(): void {
    this.restoreOffer = null;
    this.#remember();
  }

  /** Where the loaded base model came from (a GGUF export reads its files again); null with none loaded. */
  get modelSource(): ModelSource | null {
    return this.model ? (this.#lastModel?.source ?? null) : null;
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
    this.#remember();
    await this.refreshMemory();
  }

  async checkPlacements(): Promise<void> {
    try {
      this.placements = await this.client.call({ type: 'placements' });
      this.#succeeded('placements');
    } catch (error) {
      this.#report(error, 'placements');
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
      this.#succeeded('generate');
    } catch (error) {
      g.error = messageOf(error);
      if (!(error instanceof EngineError && error.code === 'cancelled')) this.#report(error, 'generate');
    }
    g.done = true;
    onUpdate({ ...g });
    if (!this.failure) await this.refreshMemory();
    return g;
  }
}

export const engine = new EngineState();
if (testMode) Object.assign(globalThis, { qmdEngine: engine });
