// The rows a LoRA training run from the page trains on: a stored dataset's train and validation
// parts (the split the Datasets page shows). The run itself is the engine's (src/engine/train-job.ts),
// which the worker and the CLI both call.
import type { LabDatabase } from '../data/db.ts';
import { getDataset, scanRows } from '../data/store.ts';
import { splitRows } from '../data/split.ts';
import type { ValidationSplit } from '../data/db.ts';
import type { TrainRow } from '../engine/protocol.ts';

/** The train and validation rows of stored dataset `id` (its own validation part unless `split` is given), each part in row order. */
export async function trainingRows(db: LabDatabase, id: string, split?: ValidationSplit): Promise<{ train: TrainRow[]; validation: TrainRow[] }> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`training rows: no stored dataset ${id}`);
  const validation = new Set(splitRows(meta.rows, split ?? meta.validation).validation);
  const parts = { train: [] as TrainRow[], validation: [] as TrainRow[] };
  for await (const row of scanRows(db, id)) {
    const { query, completion, intent, line } = row;
    parts[validation.has(row.index) ? 'validation' : 'train'].push({ query, completion, ...(intent === undefined ? {} : { intent }), line });
  }
  return parts;
}
