// The one IndexedDB schema of the page. Every stored shape is declared here so that
// datasets, query sets, eval results and adapters share one database and one upgrade path.
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { QueryOutcome } from '../retrieval/eval.ts';
import type { RetrievalQuery } from '../retrieval/queries.ts';
import type { RetrievalMode } from '../retrieval/search.ts';
import type { EvalScore, RewardScore } from '../scoring/index.ts';
import type { TrainingCheckpoint } from '../engine/checkpoint.ts';
import type { GrpoConfig } from '../engine/grpo-config.ts';
import type { GrpoCheckpoint, GrpoGuardSettings, GrpoHalt, GrpoStep } from '../engine/grpo-protocol.ts';
import type { TrainStep } from '../engine/protocol.ts';
import type { TrainConfig } from '../engine/train-config.ts';
import { uniqueName } from './names.ts';
import type { ReportDrops } from './report.ts';

/** How a JSONL row was written; `structured` is QMD's current `{query, output: [[type, text]…]}` (src/data/rows.ts). */
export type RowFormat = 'structured' | 'input_output' | 'messages' | 'prompt_completion' | 'text';

/**
 * How a validation part's rows are drawn (split.ts splitRows): `qmd-lab`, our seeded shuffle; or
 * `qmd-trainer`, the rows QMD's Python trainer holds out of the same rows with the same seed
 * (Hugging Face datasets' shuffle + train_test_split), so eval losses compare row for row.
 */
export type SplitRule = 'qmd-lab' | 'qmd-trainer';

/**
 * A dataset's validation part: ceil(ratio × rows) rows drawn by `rule` with `seed`; ratio 0 is
 * none. Training holds these rows out, Eval can run their queries.
 */
export interface ValidationSplit {
  /** Share of rows, in [0, 1). */
  ratio: number;
  seed: number;
  /** Absent on splits stored before there was a choice: `qmd-lab`. */
  rule?: SplitRule;
}

/** The reference SFT run's 10 % eval split, seed 42 (configs/sft.yaml `eval`): every new dataset's. */
export const DEFAULT_VALIDATION: Readonly<ValidationSplit> = Object.freeze({ ratio: 0.1, seed: 42 });

export interface DatasetMeta {
  id: string;
  name: string;
  /** Accepted rows. */
  rows: number;
  /** Accepted rows per detected format (`structured` is absent on datasets imported before it existed). */
  formats: Partial<Record<RowFormat, number>>;
  /** Lines rejected at import (details in the `rejections` store). */
  rejected: number;
  /** Output items of structured rows left out at import; absent on datasets imported before they existed. */
  drops?: ReportDrops;
  created: number;
  /** File name it was imported from. */
  source: string;
  /** False while an import is still writing batches: such a dataset is never listed. */
  complete: boolean;
  validation: ValidationSplit;
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
  /** A structured row's `intent`: the prompt format adds it to the user turn. */
  intent?: string;
  /** The parsed JSON of the line as imported. */
  original: unknown;
}

export type RejectionKind =
  | 'invalid_utf8'
  | 'invalid_json'
  | 'too_deep'
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
  /** Set on a run that stopped early (cancelled, failed, the page closed): `done` of its `total` generations are the items. */
  partial?: { done: number; total: number };
  /** Set on a retrieval eval's result: where each query's note ranked with and without this result's expansions. */
  retrieval?: StoredRetrieval;
}

/** Which notes a retrieval eval searched: a later search over the same notes gives the same ranks. */
export interface NotesIdentity {
  count: number;
  /** SHA-256 (hex) of every note's path and content hash, in path order (src/retrieval/stored.ts notesIdentity). */
  hash: string;
}

/**
 * A retrieval eval's ranks for one result. Hit@k and MRR are not stored: they are derived from
 * the ranks (src/retrieval/stored.ts reportOfStored), so they never disagree with them.
 */
export interface StoredRetrieval {
  notes: NotesIdentity;
  /** The embedding model and dtype of the vector and hybrid modes ("owner/name q4"); null for BM25 only. */
  embedding: string | null;
  queries: RetrievalQuery[];
  modes: RetrievalMode[];
  /** Variant labels: "no expansion" first, then this result's own (its items are that variant's expansions). */
  variants: string[];
  /** Query by query, then variant, then mode (as runRetrievalEval orders them). */
  outcomes: QueryOutcome[];
  /** Modes whose ranks came from a share link as its sender stored them (no per-list ranks), not searched here. */
  fromLink: RetrievalMode[];
  /** Set when the run was cancelled while searching: the first `queries.length` of `total` queries were kept. */
  partial?: { total: number };
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

/** The two PEFT files exactly as they were given: an exported adapter is them (adapters.ts adapterZip). */
export interface AdapterFiles {
  adapterId: string;
  /** adapter_config.json */
  config: ArrayBuffer;
  /** adapter_model.safetensors */
  weights: ArrayBuffer;
}

/**
 * Where a training run stands. `interrupted`: it was running when the page that ran it went away
 * (a reload, a closed tab, a crash); like `paused` it resumes from its last checkpoint. `halted`: a
 * GRPO run the drift guard stopped, its adapter rolled back to the last good checkpoint.
 */
export type TrainRunStatus = 'running' | 'paused' | 'stopped' | 'finished' | 'failed' | 'interrupted' | 'halted';

/** What a run was started with: the training settings and the page's cadence of checkpoints and validation. */
export interface TrainRunSettings {
  config: TrainConfig;
  maxSteps: number | null;
  /** Steps between checkpoints (a pause and the last step write one too). */
  checkpointEvery: number;
  /** Steps between validation losses (the last step always gets one); null: only after the last step. */
  validateEvery: number | null;
  /** Steps between scored samples (TrainStep.samples); null or absent (runs stored before samples existed): none. */
  sampleEvery?: number | null;
  /** Validation queries each sample pass expands. */
  sampleQueries?: number;
}

/** A training run started in the page: its record, listed apart from its checkpoint's megabytes. */
export interface TrainRunRecord {
  /** Absent on runs stored before GRPO runs shared the store. */
  kind?: 'sft';
  id: string;
  status: TrainRunStatus;
  /** The base model's name as the engine reports it (a resume needs the same). */
  model: string;
  dataset: { id: string; name: string };
  settings: TrainRunSettings;
  /** ms since the epoch. */
  started: number;
  updated: number;
  /** Steps to run (known once the rows are tokenized); null before the first step. */
  totalSteps: number | null;
  /** One record per completed step, in order (the history the charts draw). */
  metrics: TrainStep[];
  /** The step the stored checkpoint holds; null while none is stored. */
  checkpointStep: number | null;
  /** Validation loss after the last step of a finished run. */
  validationLoss: number | null;
  /** Why it failed, or what a stop or pause left. */
  note: string;
}

/** What a GRPO run (#/grpo) was started with: its settings (their grpo.max_steps its step limit), drift guard and checkpoint cadence. */
export interface GrpoRunSettings {
  config: GrpoConfig;
  guard: GrpoGuardSettings;
  checkpointEvery: number;
}

/** A GRPO run started in the page, kept in the trainRuns store beside the SFT runs (`kind` tells them apart). */
export interface GrpoRunRecord {
  kind: 'grpo';
  id: string;
  status: TrainRunStatus;
  model: string;
  /** Where its prompts come from: a stored dataset's queries or a stored query set (a resume needs it still stored). */
  prompts: { from: 'dataset' | 'query-set'; id: string; name: string };
  /** The stored adapter merged into the base before the run (the SFT model); null: the base alone. */
  sft: { id: string; name: string } | null;
  settings: GrpoRunSettings;
  started: number;
  updated: number;
  totalSteps: number | null;
  /** One record per completed step, with its groups (the sample table). */
  metrics: GrpoStep[];
  checkpointStep: number | null;
  /** Set when the drift guard stopped the run and rolled it back. */
  halt: GrpoHalt | null;
  note: string;
}

/** A run of either kind, as the trainRuns store holds it. */
export type StoredRun = TrainRunRecord | GrpoRunRecord;

/** The latest checkpoint of a run (one per run: each write replaces the one before); a GRPO run's has kind 'grpo'. */
export interface TrainCheckpointRecord {
  runId: string;
  checkpoint: TrainingCheckpoint | GrpoCheckpoint;
}

interface LabDB extends DBSchema {
  datasets: { key: string; value: DatasetMeta };
  rows: { key: [string, number]; value: DatasetRow; indexes: { byDataset: string } };
  rejections: { key: [string, number]; value: Rejection; indexes: { byDataset: string } };
  querySets: { key: string; value: QuerySet };
  results: { key: string; value: EvalResult };
  adapters: { key: string; value: StoredAdapter };
  adapterFiles: { key: string; value: AdapterFiles };
  trainRuns: { key: string; value: StoredRun };
  trainCheckpoints: { key: string; value: TrainCheckpointRecord };
}

export type LabDatabase = IDBPDatabase<LabDB>;

export const DB_NAME = 'qmd-lab';

export const DB_VERSION = 4;

/** Opens (creating or upgrading) the database; each version adds its stores and keeps what earlier versions hold. */
export async function openLab(name = DB_NAME): Promise<LabDatabase> {
  const db = await openDB<LabDB>(name, DB_VERSION, {
    upgrade(db, oldVersion, _newVersion, tx) {
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
      if (oldVersion < 3) {
        // The upgrade transaction stays open while the migration's requests run; a failed request
        // aborts it (openLab then rejects), and the database stays at the version it had.
        migrateToV3(tx).catch(() => tx.error === null && tx.abort());
      }
      if (oldVersion < 4) {
        // Records apart from checkpoints, so listing runs never reads the tensors.
        db.createObjectStore('trainRuns', { keyPath: 'id' });
        db.createObjectStore('trainCheckpoints', { keyPath: 'runId' });
      }
    },
  });
  // A tab opened on newer code waits for every older connection to close before it can upgrade:
  // let it go instead of blocking it until this tab closes.
  db.addEventListener('versionchange', () => db.close());
  return db;
}

type UpgradeTransaction = IDBPTransaction<LabDB, StoreNames<LabDB>[], 'versionchange'>;

/**
 * Version 3: every dataset gets a validation part (the default one, which is what Train and Eval
 * drew before), and names that were stored twice get " (2)"… suffixes, oldest first.
 */
async function migrateToV3(tx: UpgradeTransaction): Promise<void> {
  const taken: string[] = [];
  const datasets = tx.objectStore('datasets');
  for (const meta of (await datasets.getAll()).sort((a, b) => a.created - b.created)) {
    const name = uniqueName(meta.name, taken);
    taken.push(name);
    await datasets.put({ ...meta, name, validation: meta.validation ?? { ...DEFAULT_VALIDATION } });
  }
  taken.length = 0;
  const adapters = tx.objectStore('adapters');
  for (const adapter of (await adapters.getAll()).sort((a, b) => a.created - b.created)) {
    const name = uniqueName(adapter.name, taken);
    taken.push(name);
    if (name !== adapter.name) await adapters.put({ ...adapter, name });
  }
}

export function newId(): string {
  return crypto.randomUUID();
}
