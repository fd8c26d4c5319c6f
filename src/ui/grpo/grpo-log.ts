// The stored record of the GRPO run in flight (a GrpoRunRecord in the trainRuns store): each
// step, checkpoint and the end written in the order they happened, one write at a time, while the
// run goes on — as run-log.ts does for SFT runs. A write that fails does not stop the run: the
// first failure is kept for the page to say what was not stored.
import { messageOf } from '../../app/format.ts';
import { grpoEndedRecord } from '../../app/grpo-runs.ts';
import type { GrpoRunRecord, LabDatabase, TrainRunStatus } from '../../data/db.ts';
import { putTrainRun, recordStep, saveTrainCheckpoint } from '../../data/train-runs.ts';
import type { GrpoCheckpoint, GrpoHalt, GrpoStep } from '../../engine/grpo-protocol.ts';

export class GrpoLog {
  #record: GrpoRunRecord;
  #writes: Promise<void> = Promise.resolve();
  failure: string | null = null;

  constructor(
    private readonly db: LabDatabase,
    record: GrpoRunRecord,
    private readonly onChange: (record: GrpoRunRecord) => void = () => {},
  ) {
    this.#record = record;
  }

  get record(): GrpoRunRecord {
    return this.#record;
  }

  #set(record: GrpoRunRecord): GrpoRunRecord {
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

  begin(): Promise<void> {
    const record = this.#record;
    this.#write('the run', () => putTrainRun(this.db, record));
    return this.#writes;
  }

  step(step: GrpoStep): void {
    const record = this.#set(recordStep(this.#record, step));
    this.#write(`step ${step.step}`, () => putTrainRun(this.db, record));
  }

  checkpoint(checkpoint: GrpoCheckpoint): void {
    const record = this.#record;
    this.#write(`the checkpoint of step ${checkpoint.state.step}`, async () => {
      await saveTrainCheckpoint(this.db, record, checkpoint);
      this.#set({ ...this.#record, checkpointStep: checkpoint.state.step });
    });
  }

  async end(status: Exclude<TrainRunStatus, 'running'>, note: string, halt: GrpoHalt | null = null): Promise<GrpoRunRecord> {
    const record = this.#set(grpoEndedRecord(this.#record, status, note, halt));
    this.#write('the end of the run', () => putTrainRun(this.db, record));
    await this.#writes;
    return this.#record;
  }
}
