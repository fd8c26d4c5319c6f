// The stored record of the run in flight, SFT or GRPO (data/train-runs.ts; both kinds share the
// trainRuns store): each step, checkpoint and the end written in the order they happened, one
// write at a time, while the run goes on. A write that fails (storage full or blocked) does not
// stop the run: the first failure is kept for the page to say what was not stored.
import { messageOf } from '../../app/format.ts';
import type { LabDatabase, StoredRun } from '../../data/db.ts';
import { putTrainRun, recordStep, saveTrainCheckpoint } from '../../data/train-runs.ts';
import type { TrainingCheckpoint } from '../../engine/checkpoint.ts';
import type { GrpoCheckpoint } from '../../engine/grpo-protocol.ts';

export class RunLog<R extends StoredRun> {
  #record: R;
  #writes: Promise<void> = Promise.resolve();
  /** What the first failed write was, and why; null while every write succeeded. */
  failure: string | null = null;

  /** `onChange` hears every new record (before it is stored). */
  constructor(
    private readonly db: LabDatabase,
    record: R,
    private readonly onChange: (record: R) => void = () => {},
  ) {
    this.#record = record;
  }

  get record(): R {
    return this.#record;
  }

  #set(record: R): R {
    this.#record = record;
    this.onChange(record);
    return record;
  }

  #write(what: string, work: () => Promise<unknown>): void {
    this.#writes = this.#writes.then(work).then(
      () => {},
      (error: unknown) => void (this.failure ??= `${what} was not stored in this browser: ${messageOf(error)}`),
    );
  }

  /** Stores the record as it starts (or resumes). */
  begin(): Promise<void> {
    const record = this.#record;
    this.#write('the run', () => putTrainRun(this.db, record));
    return this.flushed();
  }

  step(step: R['metrics'][number]): void {
    const record = this.#set(recordStep<R['metrics'][number], R>(this.#record, step));
    this.#write(`step ${step.step}`, () => putTrainRun(this.db, record));
  }

  /** Replaces the stored checkpoint; the record says so once it is stored. */
  checkpoint(checkpoint: TrainingCheckpoint | GrpoCheckpoint): void {
    const record = this.#record;
    this.#write(`the checkpoint of step ${checkpoint.state.step}`, async () => {
      await saveTrainCheckpoint(this.db, record, checkpoint);
      this.#set({ ...this.#record, checkpointStep: checkpoint.state.step });
    });
  }

  /** Stores how the run ended — `ended` makes that record from the current one — once the writes before are done. */
  async end(ended: (record: R) => R): Promise<R> {
    const record = this.#set(ended(this.#record));
    this.#write('the end of the run', () => putTrainRun(this.db, record));
    await this.flushed();
    return this.#record;
  }

  flushed(): Promise<void> {
    return this.#writes;
  }
}
