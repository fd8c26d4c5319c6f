// GRPO runs started in the page: their prompts (a stored dataset's queries or a query set), their
// records in the trainRuns store beside the SFT runs (kind 'grpo'; data/train-runs.ts writes,
// deletes and marks both kinds), and the pure bookkeeping of a record — a resume, the end, why a
// resume is refused — tested without a page.
import { BUILTIN_QUERY_SETS } from '../data/builtinQuerySets.ts';
import type { GrpoRunRecord, LabDatabase, TrainRunStatus } from '../data/db.ts';
import { getDataset, scanRows } from '../data/store.ts';
import { isGrpoCheckpoint, RESUMABLE } from '../data/train-runs.ts';
import type { GrpoCheckpoint, GrpoOutcome } from '../engine/grpo-protocol.ts';
import type { GrpoPrompt } from '../engine/grpo-rollout.ts';

/** Where a run's prompts come from; a built-in query set's id is `builtin:<name>`. */
export type PromptSource = GrpoRunRecord['prompts'];

const BUILTIN = 'builtin:';

export const builtinSetId = (name: string) => BUILTIN + name;

/** The prompts of `source`: every row's query (with its intent) of a dataset, or a query set's queries; null when it is no longer stored. */
export async function grpoPrompts(db: LabDatabase, source: Pick<PromptSource, 'from' | 'id'>): Promise<GrpoPrompt[] | null> {
  if (source.from === 'query-set') {
    const queries = source.id.startsWith(BUILTIN)
      ? BUILTIN_QUERY_SETS.find((s) => builtinSetId(s.name) === source.id)?.queries
      : (await db.get('querySets', source.id))?.queries;
    return queries ? queries.map((query) => ({ query })) : null;
  }
  if (!(await getDataset(db, source.id))) return null;
  const prompts: GrpoPrompt[] = [];
  // GRPO samples its own completions: the dataset's are not read.
  for await (const { query, intent, line } of scanRows(db, source.id)) prompts.push({ query, ...(intent === undefined ? {} : { intent }), line });
  return prompts;
}

/** Every GRPO run, the most recently started first. */
export async function listGrpoRuns(db: LabDatabase): Promise<GrpoRunRecord[]> {
  return (await db.getAll('trainRuns')).filter((r): r is GrpoRunRecord => r.kind === 'grpo').sort((a, b) => b.started - a.started);
}

export async function getGrpoRun(db: LabDatabase, id: string): Promise<GrpoRunRecord | null> {
  const run = await db.get('trainRuns', id);
  return run?.kind === 'grpo' ? run : null;
}

export async function storedGrpoCheckpoint(db: LabDatabase, runId: string): Promise<GrpoCheckpoint | null> {
  const checkpoint = (await db.get('trainCheckpoints', runId))?.checkpoint;
  return checkpoint && isGrpoCheckpoint(checkpoint) ? checkpoint : null;
}

/** What the page has that a resume needs: the loaded model's name, and whether the prompts and the SFT adapter are still stored. */
export interface GrpoResumeContext {
  model: string | null;
  promptsStored: boolean;
  sftStored: boolean;
}

/**
 * The statuses a GRPO run resumes from: an SFT run's, and halted — from the rolled-back checkpoint,
 * where the same settings may drift again (the halt panel says what to change).
 */
export const GRPO_RESUMABLE: readonly TrainRunStatus[] = [...RESUMABLE, 'halted'];

/** Why `run` cannot resume from `checkpoint` here (a sentence naming what differs), or null when it can. */
export function grpoResumeRefusal(run: GrpoRunRecord, checkpoint: GrpoCheckpoint | null, here: GrpoResumeContext): string | null {
  if (!GRPO_RESUMABLE.includes(run.status)) return `the run is ${run.status}: only a paused, interrupted, failed or halted run resumes`;
  if (!checkpoint) return 'the run has no checkpoint (it ended before its first one was written): start it again';
  if (checkpoint.state.step >= checkpoint.totalSteps) return `its checkpoint already holds the last step (${checkpoint.totalSteps})`;
  if (here.model === null) return `no model is loaded: load ${run.model} in the Playground to resume it`;
  if (here.model !== run.model) return `it trained on ${run.model}, and the loaded model is ${here.model}: load ${run.model} to resume it`;
  if (!here.promptsStored) return `its prompts (${run.prompts.name}) are no longer stored: start a new run`;
  if (run.sft && !here.sftStored) return `its SFT adapter ${run.sft.name} was deleted, and the run's reference model with it: start a new run`;
  return null;
}

/** The record of a run resuming from `checkpoint`: running, its history cut to the checkpoint's (later steps run again). */
export function grpoResumedRecord(run: GrpoRunRecord, checkpoint: GrpoCheckpoint, now = Date.now()): GrpoRunRecord {
  return { ...run, status: 'running', updated: now, metrics: [...checkpoint.metrics], totalSteps: checkpoint.totalSteps, halt: null, note: '' };
}

/** The record of a run that ended: its status, what the page says about it and the drift guard's halt. */
export function grpoEndedRecord(run: GrpoRunRecord, status: Exclude<TrainRunStatus, 'running'>, note: string, halt: GrpoRunRecord['halt'] = null, now = Date.now()): GrpoRunRecord {
  return { ...run, status, note, halt, updated: now };
}

/** How a run's outcome is stored: halted by the drift guard (the adapter is the rolled-back one), then paused, stopped, finished. */
export function grpoStatus(outcome: Pick<GrpoOutcome, 'halt' | 'paused' | 'stopped'>): Exclude<TrainRunStatus, 'running' | 'interrupted'> {
  return outcome.halt ? 'halted' : outcome.paused ? 'paused' : outcome.stopped ? 'stopped' : 'finished';
}

/** "Trained 2 of 2 steps", "Paused after step 1 of 2 — …", "Cancelled after step 1 of 2 — …", "Drift guard: …". */
export function grpoOutcomeLine(outcome: Pick<GrpoOutcome, 'steps' | 'halt' | 'paused' | 'stopped'>): string {
  const last = outcome.steps.at(-1);
  const done = last?.step ?? 0;
  const of = last?.of ?? 0;
  if (outcome.halt) return `Stopped by the drift guard at step ${outcome.halt.step} of ${of}, rolled back to ${outcome.halt.rolledBackTo === 0 ? 'the fresh adapter' : `step ${outcome.halt.rolledBackTo}`}`;
  if (outcome.paused) return `Paused after step ${done} of ${of} — its checkpoint is stored: Resume in the runs table continues it`;
  if (outcome.stopped) return `Cancelled after step ${done} of ${of} — the adapter of step ${done} is kept`;
  return `Trained ${done} of ${of} steps`;
}
