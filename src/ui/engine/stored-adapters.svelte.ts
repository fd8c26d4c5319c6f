// LoRA adapters kept in this browser (IndexedDB, src/data/adapters.ts): what the model panel lists,
// and saving, loading into the engine, renaming, deleting and downloading them. An adapter is
// saved only after the engine loaded it on the current model, so a stored adapter is known to fit it.
import { downloadBlob, fileStem } from '../../app/download.ts';
import { lab } from '../../app/lab.ts';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  adapterZip,
  deleteAdapter,
  inspectAdapterFiles,
  listAdapters,
  pickAdapterFiles,
  readAdapterFiles,
  renameAdapter,
  saveAdapter,
} from '../../data/adapters.ts';
import type { StoredAdapter } from '../../data/db.ts';
import type { AdapterInfo, ModelSource } from '../../engine/protocol.ts';
import { OpfsCache } from '../../model/hub/opfs-cache.ts';
import { engine } from './engine.svelte.ts';
import { messageOf } from '../../app/format.ts';

const message = (error: unknown) => (messageOf(error));

/** The bytes of both files of an adapter the engine loaded: picked files, or a hub repo's files in the download cache. */
async function sourceBytes(source: ModelSource): Promise<{ config: Uint8Array; weights: Uint8Array }> {
  if (source.kind === 'files') {
    const { config, weights } = pickAdapterFiles(source.files);
    return { config: new Uint8Array(await config.arrayBuffer()), weights: new Uint8Array(await weights.arrayBuffer()) };
  }
  const cache = new OpfsCache();
  const read = async (file: string) => {
    const stored = await cache.get({ repo: source.repo, revision: source.revision ?? 'main', file });
    if (!stored) throw new Error(`${source.repo}/${file} is not in the download cache; load the adapter again`);
    return stored.read(0, stored.size);
  };
  return { config: await read(ADAPTER_CONFIG), weights: await read(ADAPTER_WEIGHTS) };
}

class StoredAdaptersState {
  list = $state<StoredAdapter[]>([]);
  error = $state<string | null>(null);
  /** Set while a save is in flight, to show it and refuse a second one. */
  saving = $state<string | null>(null);
  /** Engine adapter id → stored adapter id, for loaded adapters whose files are stored (loaded from the list, or saved). */
  #storedAs = $state<Record<string, string>>({});

  isStored(engineId: string): boolean {
    return engineId in this.#storedAs;
  }

  /** Records that the engine's adapter `engineId` is stored as `storedId` (e.g. a trained adapter both used and saved). */
  link(engineId: string, storedId: string): void {
    this.#storedAs = { ...this.#storedAs, [engineId]: storedId };
  }

  async #run(what: string, work: () => Promise<void>): Promise<void> {
    this.error = null;
    try {
      await work();
    } catch (error) {
      this.error = `could not ${what}: ${message(error)}`;
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this.list = await listAdapters(await lab());
    } catch (error) {
      this.error = `could not list stored adapters: ${message(error)}`;
    }
  }

  /**
   * Picked files: checked on their own, then loaded on the model (which checks every tensor's shape
   * against it), and stored only when both pass. The adapter stays loaded and selected.
   */
  savePicked(files: File[]): Promise<void> {
    return this.#run('save the adapter', async () => {
      const model = engine.model;
      if (!model) throw new Error('load a base model first: an adapter is checked against it before it is stored');
      const pair = pickAdapterFiles(files);
      const config = new Uint8Array(await pair.config.arrayBuffer());
      const weights = new Uint8Array(await pair.weights.arrayBuffer());
      const { config: lora } = await inspectAdapterFiles(config, weights);
      const name = pair.weights.webkitRelativePath.split('/')[0] || `LoRA r${lora.r} alpha ${lora.alpha}`;
      this.saving = name;
      try {
        const id = `picked:${crypto.randomUUID()}`;
        if (!(await engine.loadAdapter({ kind: 'files', files: [pair.config, pair.weights], name }, id, name))) return;
        const stored = await saveAdapter(await lab(), { name, config, weights, checkedWith: model.name });
        this.#storedAs = { ...this.#storedAs, [id]: stored.id };
      } finally {
        this.saving = null;
      }
    });
  }

  /** An adapter the engine has loaded, stored with its original files. */
  saveLoaded(info: AdapterInfo): Promise<void> {
    return this.#run(`save ${info.name}`, async () => {
      const source = engine.adapterSource(info.id);
      if (!source) throw new Error(`${info.name} is not loaded`);
      const { config, weights } = await sourceBytes(source);
      const stored = await saveAdapter(await lab(), { name: info.name, config, weights, checkedWith: engine.model?.name ?? null });
      this.#storedAs = { ...this.#storedAs, [info.id]: stored.id };
    });
  }

  /** Loads a stored adapter on the model through the engine's file path, and selects it. */
  load(adapter: StoredAdapter): Promise<void> {
    return this.#run(`load ${adapter.name}`, async () => {
      const { config, weights } = await readAdapterFiles(await lab(), adapter.id);
      const files = [new File([config], ADAPTER_CONFIG), new File([weights], ADAPTER_WEIGHTS)];
      const id = `stored:${adapter.id}`;
      if (await engine.loadAdapter({ kind: 'files', files, name: adapter.name }, id, adapter.name)) this.#storedAs = { ...this.#storedAs, [id]: adapter.id };
    });
  }

  rename(adapter: StoredAdapter, name: string): Promise<void> {
    return this.#run(`rename ${adapter.name}`, async () => void (await renameAdapter(await lab(), adapter.id, name)));
  }

  remove(adapter: StoredAdapter): Promise<void> {
    return this.#run(`delete ${adapter.name}`, async () => {
      await deleteAdapter(await lab(), adapter.id);
      this.#storedAs = Object.fromEntries(Object.entries(this.#storedAs).filter(([, stored]) => stored !== adapter.id));
    });
  }

  /** Both PEFT files in one zip named after the adapter, ready for PeftModel.from_pretrained once unpacked. */
  download(adapter: StoredAdapter): Promise<void> {
    return this.#run(`download ${adapter.name}`, async () => {
      const zip = adapterZip(adapter, await readAdapterFiles(await lab(), adapter.id));
      downloadBlob(`${fileStem(adapter.name)}.zip`, new Blob([zip], { type: 'application/zip' }));
    });
  }
}

export const storedAdapters = new StoredAdaptersState();
