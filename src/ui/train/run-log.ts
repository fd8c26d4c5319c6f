// The stored record of the run in flight (data/train-runs.ts): each step, checkpoint and the end
// written in the order they happened, one write at a time, while the run goes on. A write that
// fails (storage full or blocked) does not stop the run: the first failure is kept for the page
// to say what was not stored.
import { messageOf } from '../../app/format.ts';
import type { LabDatabase, TrainRunRecord, TrainRunStatus } from '../../data/db.ts';
import { endedRecord, putTrainRun, recordStep, saveTrainCheckpoint } from '../../data/train-runs.ts';
import type { TrainingCheckpoint } from '../../engine/checkpoint.ts';
import type { TrainStep } from '../../engine/protocol.ts';

export class RunLog {
  #record: TrainRunRecord;
  #writes: Promise<void> = Promise.resolve();
  /** What the first failed write was, and why; null while every write succeeded. */
  failure: string | null = null;

  /** `onChange` hears every new record (before it is stored). */
  constructor(
    private readonly db: LabDatabase,
    record: TrainRunRecord,
    private readonly onChange: (record: TrainRunRecord) => void = () => {},
  ) {
    this.#record = record;
  }

  get record(): TrainRunRecord {
    return this.#record;
  }

  #set(record: TrainRunRecord): TrainRunRecord {
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

  step(step: TrainStep): void {
    const record = this.#set(recordStep(this.#record, step));
    this.#write(`step ${step.step}`, () => putTrainRun(this.db, record));
  }

  /** Replaces the stored checkpoint; the record says so once it is stored. */
  checkpoint(checkpoint: TrainingCheckpoint): void {
    const record = this.#record;
    this.#write(`the checkpoint of step ${checkpoint.state.step}`, async () => {
      await saveTrainCheckpoint(this.db, record, checkpoint);
      this.#set({ ...this.#record, checkpointStep: checkpoint.state.step });
    });
  }

  /** Stores how the run ended (a final validation loss goes on its last step, for the chart) once the writes before are done. */
  async end(status: Exclude<TrainRunStatus, 'running'>, note: string, validationLoss: number | null = null): Promise<TrainRunRecord> {
    const ended = endedRecord(this.#record, status, note, validationLoss);
    const last = ended.metrics.at(-1);
    if (validationLoss !== null && last) ended.metrics = [...ended.metrics.slice(0, -1), { ...last, validationLoss }];
    const record = this.#set(ended);
    this.#write('the end of the run', () => putTrainRun(this.db, record));
    await this.flushed();
    return this.#record;
  }

  flushed(): Promise<void> {
    return this.#writes;
  }
}
