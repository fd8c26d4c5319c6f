// LoRA adapters kept in the browser: the two PEFT files stored byte for byte in IndexedDB, checked
// before they are stored (config fields, tensor names, ranks and shapes that agree with each other),
// listed without reading their weights, renamed, deleted and read back for the engine or a download.
// Names are unique, and the same files are stored once. Whether an adapter fits a given base
// model is the engine's check (readPeftAdapter) at load.
import { zipSync } from 'fflate';
import { newId, type AdapterFiles, type LabDatabase, type StoredAdapter } from './db.ts';
import { uniqueName } from './names.ts';
import { bytesSource } from '../model/byte-source.ts';
import { excludeModules, isExcluded, parseAdapterConfig, peftTensorName, type LoraConfig } from '../model/peft.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { loraTargets, projectionPath, type LoraTarget } from '../model/tensors.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** The two PEFT files among picked ones (a folder may hold a README and more), by file name. */
export function pickAdapterFiles<T extends { name: string }>(files: readonly T[]): { config: T; weights: T } {
  const byName = (name: string) => files.find((f) => f.name === name);
  const config = byName(ADAPTER_CONFIG);
  const weights = byName(ADAPTER_WEIGHTS);
  if (!config || !weights) {
    const got = files.map((f) => f.name).join(', ') || 'no files';
    throw new Error(`expected ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} among the picked files, got ${got}`);
  }
  return { config, weights };
}

export interface AdapterSummary {
  config: LoraConfig;
  layers: number;
  /** [out, in] of each target's projection, as the tensors imply. */
  shapes: Partial<Record<LoraTarget, [number, number]>>;
}

const tensorPattern = /^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$/;

/**
 * Checks the two files without a base model: a valid adapter_config.json, a valid safetensors
 * file whose tensors are exactly lora_A [r, in] and lora_B [out, r] of every target in layers
 * 0…N−1, with the same in/out for a target in every layer. Errors name the file and tensor.
 */
export async function inspectAdapterFiles(config: Uint8Array, weights: Uint8Array): Promise<AdapterSummary> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(config));
  } catch (error) {
    throw new Error(`${ADAPTER_CONFIG}: not valid JSON (${(error as Error).message})`);
  }
  const lora = parseAdapterConfig(json, ADAPTER_CONFIG);
  const file = await SafetensorsFile.open(bytesSource(weights, ADAPTER_WEIGHTS));
  const shapes: AdapterSummary['shapes'] = {};
  let layers = 0;
  for (const name of file.names()) {
    const match = tensorPattern.exec(name);
    const layer = Number(match?.[1]);
    const target = match?.[2] as LoraTarget;
    const matrix = match?.[3] as 'A' | 'B';
    if (!match || !loraTargets.includes(target) || name !== peftTensorName(layer, target, matrix)) {
      throw new Error(`${ADAPTER_WEIGHTS}: unexpected tensor ${name} (expected keys like ${peftTensorName(0, lora.targets[0]!, 'A')})`);
    }
    if (!lora.targets.includes(target)) {
      throw new Error(`${ADAPTER_WEIGHTS}: tensor ${name} is for ${target}, but target_modules is [${lora.targets.join(', ')}]`);
    }
    const shape = file.info(name).shape;
    const rankAt = matrix === 'A' ? 0 : 1;
    if (shape.length !== 2 || shape[rankAt] !== lora.r) {
      const expected = matrix === 'A' ? `[${lora.r}, in]` : `[out, ${lora.r}]`;
      throw new Error(`${ADAPTER_WEIGHTS}: tensor ${name} has shape [${shape.join(', ')}], expected ${expected} (r = ${lora.r})`);
    }
    const known = (shapes[target] ??= [-1, -1]);
    const at = matrix === 'A' ? 1 : 0;
    const size = shape[1 - rankAt]!;
    if (known[at] !== -1 && known[at] !== size) {
      const side = matrix === 'A' ? 'in' : 'out';
      throw new Error(`${ADAPTER_WEIGHTS}: tensor ${name} has ${side} = ${size}, but other layers' ${target} have ${known[at]}`);
    }
    known[at] = size;
    layers = Math.max(layers, layer + 1);
  }
  if (layers === 0) throw new Error(`${ADAPTER_WEIGHTS}: no LoRA tensors`);
  const present = new Set(file.names());
  const exclude = excludeModules(json as Record<string, unknown>, ADAPTER_CONFIG);
  for (let layer = 0; layer < layers; layer++) {
    for (const target of lora.targets) {
      // PEFT writes no matrices for a module its exclude_modules names.
      if (isExcluded(projectionPath(layer, target), exclude)) continue;
      for (const matrix of ['A', 'B'] as const) {
        const name = peftTensorName(layer, target, matrix);
        if (!present.has(name)) throw new Error(`${ADAPTER_WEIGHTS}: missing tensor ${name} (the file has layers 0–${layers - 1})`);
      }
    }
  }
  return { config: lora, layers, shapes };
}

export interface AdapterToSave {
  name: string;
  config: Uint8Array;
  weights: Uint8Array;
  /** The model it was checked against, kept when adapter_config.json names no base model. */
  checkedWith?: string | null;
}

const sameBytes = (a: ArrayBuffer, b: Uint8Array) => a.byteLength === b.byteLength && new Uint8Array(a).every((v, i) => v === b[i]);

/**
 * Checks and stores an adapter (metadata and both files in one transaction); nothing is stored when
 * the check fails. Files already stored (the same adapter saved again) are not stored twice: the
 * stored adapter is returned as it is. A name another adapter has gets a " (2)"… suffix.
 */
export async function saveAdapter(db: LabDatabase, adapter: AdapterToSave): Promise<StoredAdapter> {
  const wanted = adapter.name.trim();
  if (wanted === '') throw new Error('saveAdapter: the adapter name is empty');
  const { config } = await inspectAdapterFiles(adapter.config, adapter.weights);
  const bytes = adapter.config.byteLength + adapter.weights.byteLength;
  // Only IndexedDB requests are awaited below, so the transaction stays open from the name check to the put.
  const tx = db.transaction(['adapters', 'adapterFiles'], 'readwrite');
  const listed = await tx.objectStore('adapters').getAll();
  for (const candidate of listed.filter((a) => a.bytes === bytes)) {
    const files = await tx.objectStore('adapterFiles').get(candidate.id);
    if (files && sameBytes(files.config, adapter.config) && sameBytes(files.weights, adapter.weights)) {
      await tx.done;
      return candidate;
    }
  }
  const stored: StoredAdapter = {
    id: newId(),
    name: uniqueName(wanted, listed.map((a) => a.name)),
    rank: config.r,
    alpha: config.alpha,
    targets: [...config.targets],
    useRslora: config.useRslora,
    baseModel: config.baseModel ?? adapter.checkedWith ?? null,
    bytes,
    created: Date.now(),
  };
  // Copies: a view into a larger buffer would store the whole buffer.
  const files: AdapterFiles = { adapterId: stored.id, config: adapter.config.slice().buffer, weights: adapter.weights.slice().buffer };
  await Promise.all([tx.objectStore('adapters').put(stored), tx.objectStore('adapterFiles').put(files), tx.done]);
  return stored;
}

/** Stored adapters, newest first (their files are not read). */
export async function listAdapters(db: LabDatabase): Promise<StoredAdapter[]> {
  return (await db.getAll('adapters')).sort((a, b) => b.created - a.created);
}

/** Renames a stored adapter; a name another adapter has gets a " (2)"… suffix. */
export async function renameAdapter(db: LabDatabase, id: string, name: string): Promise<StoredAdapter> {
  const trimmed = name.trim();
  if (trimmed === '') throw new Error(`renameAdapter: the new name of adapter ${id} is empty`);
  const tx = db.transaction('adapters', 'readwrite');
  const all = await tx.store.getAll();
  const stored = all.find((a) => a.id === id);
  if (!stored) throw new Error(`renameAdapter: no stored adapter ${id}`);
  const renamed = { ...stored, name: uniqueName(trimmed, all.filter((a) => a.id !== id).map((a) => a.name)) };
  await tx.store.put(renamed);
  await tx.done;
  return renamed;
}

/** Removes an adapter and its files in one transaction. */
export async function deleteAdapter(db: LabDatabase, id: string): Promise<void> {
  const tx = db.transaction(['adapters', 'adapterFiles'], 'readwrite');
  await Promise.all([tx.objectStore('adapters').delete(id), tx.objectStore('adapterFiles').delete(id), tx.done]);
}

/** The two files exactly as they were saved. */
export async function readAdapterFiles(db: LabDatabase, id: string): Promise<{ config: Uint8Array<ArrayBuffer>; weights: Uint8Array<ArrayBuffer> }> {
  const files = await db.get('adapterFiles', id);
  if (!files) throw new Error(`readAdapterFiles: no stored files for adapter ${id}`);
  return { config: new Uint8Array(files.config), weights: new Uint8Array(files.weights) };
}

/**
 * adapter_config.json as it goes out: the stored bytes, except that a file naming no base model
 * (base_model_name_or_path null or absent, as the page's own training wrote it) gets the model
 * the adapter was checked against, so PEFT's AutoPeftModel can find its base.
 */
export function configWithBase(config: Uint8Array, baseModel: string | null): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(config)) as Record<string, unknown>;
  if (baseModel === null || typeof json.base_model_name_or_path === 'string') return config;
  return new TextEncoder().encode(JSON.stringify({ ...json, base_model_name_or_path: baseModel }, null, 2) + '\n');
}

/**
 * A stored adapter as one zip a PEFT folder unpacks from: adapter_config.json (configWithBase)
 * and adapter_model.safetensors, stored uncompressed (float weights barely deflate) and dated
 * when the adapter was stored.
 */
export function adapterZip(adapter: StoredAdapter, files: { config: Uint8Array; weights: Uint8Array }): Uint8Array<ArrayBuffer> {
  const mtime = new Date(adapter.created);
  return zipSync({
    [ADAPTER_CONFIG]: [configWithBase(files.config, adapter.baseModel), { level: 6, mtime }],
    [ADAPTER_WEIGHTS]: [files.weights, { level: 0, mtime }],
  }) as Uint8Array<ArrayBuffer>;
}
