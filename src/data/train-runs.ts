// Training runs started in the page (db.ts trainRuns) and the latest checkpoint of each
// (trainCheckpoints). A checkpoint and its run's record are written in one transaction, so after
// a crash the record's checkpointStep always names the checkpoint that is stored. The pure
// bookkeeping of a run's record (a step, a resume, the end) lives here too, tested without a page.
// GRPO runs share both stores (their `kind` is 'grpo'): the SFT listing and reads leave them out,
// the writes, deletes and the interrupted marking serve both (src/app/grpo-runs.ts has the rest).
import type { TrainingCheckpoint } from '../engine/checkpoint.ts';
import type { GrpoCheckpoint } from '../engine/grpo-protocol.ts';
import type { LabDatabase, StoredRun, TrainRunRecord, TrainRunStatus } from './db.ts';

const isSftRun = (run: StoredRun): run is TrainRunRecord => run.kind !== 'grpo';
/** Whether a stored checkpoint is a GRPO run's. */
export const isGrpoCheckpoint = (c: TrainingCheckpoint | GrpoCheckpoint): c is GrpoCheckpoint => 'kind' in c && c.kind === 'grpo';

/** Runs that resume from their checkpoint. */
export const RESUMABLE: readonly TrainRunStatus[] = ['paused', 'interrupted', 'failed'];

/** Every SFT run, the most recently started first. */
export async function listTrainRuns(db: LabDatabase): Promise<TrainRunRecord[]> {
  return (await db.getAll('trainRuns')).filter(isSftRun).sort((a, b) => b.started - a.started);
}

export async function getTrainRun(db: LabDatabase, id: string): Promise<TrainRunRecord | null> {
  const run = await db.get('trainRuns', id);
  return run && isSftRun(run) ? run : null;
}

/** Writes the record alone (a step, a status); its checkpointStep stays what the stored checkpoint holds. */
export async function putTrainRun(db: LabDatabase, run: StoredRun): Promise<void> {
  const tx = db.transaction('trainRuns', 'readwrite');
  const stored = await tx.store.get(run.id);
  await tx.store.put({ ...run, checkpointStep: stored?.checkpointStep ?? null });
  await tx.done;
}

/** Replaces the run's checkpoint and writes its record with checkpointStep set to it, in one transaction; returns that record. */
export async function saveTrainCheckpoint<R extends StoredRun>(db: LabDatabase, run: R, checkpoint: TrainingCheckpoint | GrpoCheckpoint): Promise<R> {
  const record = { ...run, checkpointStep: checkpoint.state.step };
  const tx = db.transaction(['trainRuns', 'trainCheckpoints'], 'readwrite');
  try {
    await tx.objectStore('trainRuns').put(record);
    await tx.objectStore('trainCheckpoints').put({ runId: run.id, checkpoint });
  } catch (error) {
    // The record is written first: a checkpoint that cannot be stored takes it back with it.
    tx.abort();
    await tx.done.catch(() => {});
    throw error;
  }
  await tx.done;
  return record;
}

export async function readTrainCheckpoint(db: LabDatabase, runId: string): Promise<TrainingCheckpoint | null> {
  const checkpoint = (await db.get('trainCheckpoints', runId))?.checkpoint;
  return checkpoint && !isGrpoCheckpoint(checkpoint) ? checkpoint : null;
}

/** Deletes the run and its checkpoint together. */
export async function deleteTrainRun(db: LabDatabase, id: string): Promise<void> {
  const tx = db.transaction(['trainRuns', 'trainCheckpoints'], 'readwrite');
  await Promise.all([tx.objectStore('trainRuns').delete(id), tx.objectStore('trainCheckpoints').delete(id), tx.done]);
}

/**
 * Marks `interrupted` every run stored as running that `alive` says no page runs any more (the
 * page that ran it reloaded, closed or crashed); returns their ids. A run whose status changed
 * meanwhile is left as it is.
 */
export async function markInterrupted(db: LabDatabase, alive: (id: string) => boolean | Promise<boolean>, now = Date.now()): Promise<string[]> {
  const lost: string[] = [];
  for (const run of await db.getAll('trainRuns')) if (run.status === 'running' && !(await alive(run.id))) lost.push(run.id);
  if (lost.length === 0) return lost;
  const tx = db.transaction('trainRuns', 'readwrite');
  const marked: string[] = [];
  for (const id of lost) {
    const run = await tx.store.get(id);
    if (run?.status !== 'running') continue;
    const then = run.checkpointStep === null ? 'it has no checkpoint to resume from' : `it resumes from the checkpoint of step ${run.checkpointStep}`;
    await tx.store.put({ ...run, status: 'interrupted', updated: now, note: `the page running it went away (a reload, a closed tab or a crash) after step ${run.metrics.at(-1)?.step ?? 0}; ${then}` });
    marked.push(id);
  }
  await tx.done;
  return marked;
}

/** What the page has that a resume needs: the loaded model's name and whether the run's dataset is still stored. */
export interface ResumeContext {
  model: string | null;
  datasetStored: boolean;
}

/** Why `run` cannot resume from `checkpoint` here (a sentence naming what differs), or null when it can. */
export function resumeRefusal(run: TrainRunRecord, checkpoint: TrainingCheckpoint | null, here: ResumeContext): string | null {
  if (!RESUMABLE.includes(run.status)) return `the run is ${run.status}: only a paused, interrupted or failed run resumes`;
  if (!checkpoint) return 'the run has no checkpoint (it ended before its first one was written): start it again';
  if (checkpoint.state.step >= checkpoint.totalSteps) return `its checkpoint already holds the last step (${checkpoint.totalSteps})`;
  if (here.model === null) return `no model is loaded: load ${run.model} in the Playground to resume it`;
  if (here.model !== run.model) return `it trained on ${run.model}, and the loaded model is ${here.model}: load ${run.model} to resume it`;
  if (!here.datasetStored) return `its dataset ${run.dataset.name} was deleted, and with it the rows it trained on: start a new run`;
  return null;
}

/** The record of a run resuming from `checkpoint`: running, its history cut to the checkpoint's (later steps run again). */
export function resumedRecord(run: TrainRunRecord, checkpoint: TrainingCheckpoint, now = Date.now()): TrainRunRecord {
  return { ...run, status: 'running', updated: now, metrics: [...checkpoint.metrics], totalSteps: checkpoint.totalSteps, note: '' };
}

/** The record with one more completed step (a step number seen before replaces the steps from it on). */
export function recordStep<S extends { step: number; of: number }, R extends { updated: number; totalSteps: number | null; metrics: S[] }>(run: R, step: S, now = Date.now()): R {
  return { ...run, updated: now, totalSteps: step.of, metrics: [...run.metrics.filter((s) => s.step < step.step), step] };
}

/** The record of a run that ended: its status, what the page says about it, and a final validation loss (also put on its last step, for the chart). */
export function endedRecord(run: TrainRunRecord, status: Exclude<TrainRunStatus, 'running'>, note: string, validationLoss: number | null = null, now = Date.now()): TrainRunRecord {
  const last = run.metrics.at(-1);
  const metrics = validationLoss !== null && last ? [...run.metrics.slice(0, -1), { ...last, validationLoss }] : run.metrics;
  return { ...run, status, note, validationLoss, metrics, updated: now };
}
