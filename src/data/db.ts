// The one IndexedDB schema of the page. Every stored shape is declared here so that
// datasets, query sets, eval results and adapters share one database and one upgrade path.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { EvalScore, RewardScore } from '../scoring/index.ts';

export type RowFormat = 'input_output' | 'messages' | 'prompt_completion' | 'text';

export interface DatasetMeta {
  id: string;
  name: string;
  /** Accepted rows. */
  rows: number;
  /** Accepted rows per detected format. */
  formats: Record<RowFormat, number>;
  /** Lines rejected at import (details in the `rejections` store). */
  rejected: number;
  created: number;
  /** File name it was imported from. */
  source: string;
  /** False while an import is still writing batches: such a dataset is never listed. */
  complete: boolean;
}

export interface DatasetRow {
  datasetId: string;
  /** 0-based position among accepted rows. */
  index: number;
  /** 1-based line in the source file. */
  line: number;
  format: RowFormat;
  query: string;
  completion: string;
  /** The parsed JSON of the line as imported. */
  original: unknown;
}

export type RejectionKind =
  | 'invalid_json'
  | 'missing_field'
  | 'wrong_type'
  | 'empty_completion'
  | 'not_qmd_prompt'
  | 'duplicate';

export interface Rejection {
  datasetId: string;
  line: number;
  kind: RejectionKind;
  /** JSON path of the offending field, e.g. `messages[1].content`; '' for the whole line. */
  field: string;
  reason: string;
}

export interface QuerySet {
  id: string;
  name: string;
  queries: string[];
  created: number;
  /** Built-in sets (configs/queries) are not stored; only uploaded ones are. */
}

export interface ModelDescription {
  /** e.g. `Qwen/Qwen3-0.6B`, or a file name for local or imported results. */
  base: string;
  /** Adapter repo id, file name or stored adapter name; null for the base model. */
  adapter: string | null;
  note?: string;
}

export interface GenerationSettings {
  temperature: number;
  topK: number;
  topP: number;
  maxNewTokens: number;
  seed: number | null;
  samplesPerQuery: number;
}

export interface ResultItem {
  query: string;
  expansion: string;
  eval: EvalScore;
  reward: RewardScore;
}

export interface EvalResult {
  id: string;
  name: string;
  created: number;
  model: ModelDescription;
  profile: 'eval' | 'reward';
  settings: GenerationSettings | null;
  items: ResultItem[];
  /** Where it came from: a run in this page, an imported Python eval file, a share link. */
  origin: 'run' | 'import' | 'share';
}

/** A PEFT LoRA adapter kept in the browser (picked files, or later trained in the page); its files are in `adapterFiles`. */
export interface StoredAdapter {
  id: string;
  name: string;
  rank: number;
  alpha: number;
  targets: string[];
  useRslora: boolean;
  /** adapter_config.json's base_model_name_or_path, else the model it was checked against when saved. */
  baseModel: string | null;
  /** Both files together. */
  bytes: number;
  created: number;
}

/** The two PEFT files exactly as they were given, so an exported adapter is byte-identical. */
export interface AdapterFiles {
  adapterId: string;
  /** adapter_config.json */
  config: ArrayBuffer;
  /** adapter_model.safetensors */
  weights: ArrayBuffer;
}

interface LabDB extends DBSchema {
  datasets: { key: string; value: DatasetMeta };
  rows: { key: [string, number]; value: DatasetRow; indexes: { byDataset: string } };
  rejections: { key: [string, number]; value: Rejection; indexes: { byDataset: string } };
  querySets: { key: string; value: QuerySet };
  results: { key: string; value: EvalResult };
  adapters: { key: string; value: StoredAdapter };
  adapterFiles: { key: string; value: AdapterFiles };
}

export type LabDatabase = IDBPDatabase<LabDB>;

export const DB_NAME = 'qmd-lab';

export const DB_VERSION = 2;

/** Opens (creating or upgrading) the database; each version adds its stores and keeps what earlier versions hold. */
export async function openLab(name = DB_NAME): Promise<LabDatabase> {
  const db = await openDB<LabDB>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('datasets', { keyPath: 'id' });
        const rows = db.createObjectStore('rows', { keyPath: ['datasetId', 'index'] });
        rows.createIndex('byDataset', 'datasetId');
        const rejections = db.createObjectStore('rejections', { keyPath: ['datasetId', 'line'] });
        rejections.createIndex('byDataset', 'datasetId');
        db.createObjectStore('querySets', { keyPath: 'id' });
        db.createObjectStore('results', { keyPath: 'id' });
      }
      if (oldVersion < 2) {
        // Metadata apart from the bytes, so listing adapters never reads megabytes of weights.
        db.createObjectStore('adapters', { keyPath: 'id' });
        db.createObjectStore('adapterFiles', { keyPath: 'adapterId' });
      }
    },
  });
  // A tab opened on newer code waits for every older connection to close before it can upgrade:
  // let it go instead of blocking it until this tab closes.
  db.addEventListener('versionchange', () => db.close());
  return db;
}

export function newId(): string {
  return crypto.randomUUID();
}
