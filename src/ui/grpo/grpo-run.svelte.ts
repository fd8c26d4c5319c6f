// The page's GRPO runs: settings, the prompts and the SFT adapter picked, the run in flight (which
// survives switching pages; a reload leaves it interrupted, to resume from its last checkpoint),
// its steps, sub-progress, pace and result, the stored runs, and saving or using the adapter.
import { formatDate, messageOf } from '../../app/format.ts';
import { grpoEndedRecord, grpoOutcomeLine, grpoPrompts, grpoResumedRecord, grpoResumeRefusal, grpoStatus, getGrpoRun, listGrpoRuns, storedGrpoCheckpoint, type PromptSource } from '../../app/grpo-runs.ts';
import { grpoPace, type GrpoRunPhase } from '../../app/grpo-progress.ts';
import { grpoSettingsProblem, loadGrpoSettings, storeGrpoSettings } from '../../app/grpo-settings.ts';
import { lab } from '../../app/lab.ts';
import { runLocked } from '../../app/run-lock.ts';
import type { TrainPace } from '../../app/train-progress.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readAdapterFiles } from '../../data/adapters.ts';
import type { GrpoRunRecord } from '../../data/db.ts';
import { markInterrupted } from '../../data/train-runs.ts';
import type { GrpoCheckpoint, GrpoProgress, GrpoStep } from '../../engine/grpo-protocol.ts';
import type { EngineEvent, GrpoResult, ModelSource } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { AdapterRunState } from '../train/adapter-run.svelte.ts';
import type { RunLog } from '../train/run-log.ts';

class GrpoRunState extends AdapterRunState<GrpoRunRecord, GrpoResult> {
  settings = $state(loadGrpoSettings());
  /** Where the prompts come from (a dataset or a query set); null: none picked. */
  prompts = $state<PromptSource | null>(null);
  /** The stored adapter merged into the base before training (the SFT model); null: the base alone. */
  sft = $state<{ id: string; name: string } | null>(null);
  phase = $state<GrpoRunPhase | null>(null);
  progress = $state<GrpoProgress | null>(null);
  steps = $state.raw<GrpoStep[]>([]);

  get pace(): TrainPace | null {
    return grpoPace(this.steps, (this.clock - this.markAt) / 1000);
  }

  keepSettings(): void {
    storeGrpoSettings($state.snapshot(this.settings));
  }

  /** Lists the stored GRPO runs, first marking interrupted those (of either kind) left running by a page that is gone. */
  async refreshRuns(): Promise<void> {
    try {
      const db = await lab();
      await markInterrupted(db, async (id) => (this.running !== null && this.record?.id === id) || (await runLocked(id)));
      this.runs = await listGrpoRuns(db);
    } catch (err) {
      this.error = `could not read the stored GRPO runs: ${messageOf(err)}`;
    }
  }

  async start(): Promise<void> {
    const model = engine.model;
    const prompts = this.prompts;
    if (this.running || !model || !prompts) return;
    const settings = $state.snapshot(this.settings);
    const problem = grpoSettingsProblem(settings);
    this.error = problem ?? '';
    if (problem) return;
    this.keepSettings();
    const now = Date.now();
    const { config, guard, checkpointEvery } = settings;
    await this.#run({
      kind: 'grpo', id: crypto.randomUUID(), status: 'running', model: model.name, prompts: { ...prompts }, sft: this.sft ? { ...this.sft } : null,
      settings: { config, guard, checkpointEvery }, started: now, updated: now, totalSteps: null, metrics: [], checkpointStep: null, halt: null, note: '',
    });
  }

  /** Continues stored run `id` from its checkpoint with the settings, prompts and SFT adapter it started with. */
  async resume(id: string): Promise<void> {
    if (this.running) return;
    this.error = '';
    const db = await lab();
    const [run, checkpoint] = await Promise.all([getGrpoRun(db, id), storedGrpoCheckpoint(db, id)]);
    if (!run) return void (this.error = 'that run is no longer stored');
    const promptsStored = (await grpoPrompts(db, run.prompts)) !== null;
    const sftStored = run.sft === null || (await db.get('adapters', run.sft.id)) !== undefined;
    const problem = grpoResumeRefusal(run, checkpoint, { model: engine.model?.name ?? null, promptsStored, sftStored });
    if (problem) return void (this.error = `Cannot resume the run started ${formatDate(run.started)}: ${problem}.`);
    await this.#run(grpoResumedRecord(run, checkpoint!), checkpoint!);
  }

  /** The stored SFT adapter's files, for the worker to merge. */
  async #sftSource(sft: GrpoRunRecord['sft']): Promise<{ id: string; source: ModelSource } | null> {
    if (!sft) return null;
    const { config, weights } = await readAdapterFiles(await lab(), sft.id);
    return { id: `stored:${sft.id}`, source: { kind: 'files', files: [new File([config], ADAPTER_CONFIG), new File([weights], ADAPTER_WEIGHTS)], name: sft.name } };
  }

  async #run(record: GrpoRunRecord, checkpoint?: GrpoCheckpoint): Promise<void> {
    const model = engine.model!;
    await this.runLoop(
      record,
      () => Object.assign(this, { steps: record.metrics, progress: null, phase: 'prompts' }),
      async (log, { signal, pause }) => {
        const prompts = await grpoPrompts(await lab(), record.prompts);
        if (!prompts) throw new Error(`the prompts ${record.prompts.name} are no longer stored`);
        const sftAdapter = await this.#sftSource(record.sft);
        if (sftAdapter && record.sft) {
          this.phase = 'merge';
          // The worker merges it into the loaded weights for good (a merge is not undone): the model
          // panel says so, since "base model" in the Playground now runs base + this adapter.
          const warning = `The SFT adapter ${record.sft.name} is merged into these weights (a GRPO run): the Playground's base model is now base + ${record.sft.name}. Load the model again for the base alone.`;
          if (!model.warnings.includes(warning)) model.warnings.push(warning);
        }
        const { config, guard, checkpointEvery } = record.settings;
        return engine.client.call(
          { type: 'grpo', prompts, config, guard, maxSteps: config.grpo.maxSteps, adapterId: `grpo:${crypto.randomUUID()}`, sftAdapter, resume: checkpoint, checkpointEvery },
          {
            signal,
            pause,
            onEvent: (event) => this.#receive(event, log),
            transfer: checkpoint ? Object.values(checkpoint.state.tensors).map((t) => t.buffer) : [],
          },
        );
      },
      {
        done: (r, result) => grpoEndedRecord(r, grpoStatus(result), result.halt?.message ?? grpoOutcomeLine(result), result.halt),
        failed: (r, status, note) => grpoEndedRecord(r, status, note),
      },
      (log) => Object.assign(this, { steps: log.record.metrics, phase: null, progress: null }),
    );
  }

  #receive(event: EngineEvent, log: RunLog<GrpoRunRecord>): void {
    const now = performance.now();
    this.clock = now;
    if (event.type === 'grpo-step') {
      log.step(event.step);
      this.steps = log.record.metrics;
      Object.assign(this, { phase: 'steps', progress: null, markAt: now, gpuBytes: event.gpuBytes ?? null });
    } else if (event.type === 'grpo-checkpoint') log.checkpoint(event.checkpoint);
    else if (event.type === 'grpo-phase') Object.assign(this, { phase: event.phase, progress: null });
    else if (event.type === 'grpo-progress') this.progress = event.progress;
  }

}

export const grpoRun = new GrpoRunState();
