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
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readAdapterFiles, saveAdapter } from '../../data/adapters.ts';
import type { GrpoRunRecord, StoredAdapter } from '../../data/db.ts';
import { deleteTrainRun, markInterrupted } from '../../data/train-runs.ts';
import type { GrpoCheckpoint, GrpoProgress, GrpoStep } from '../../engine/grpo-protocol.ts';
import { EngineError, type EngineEvent, type GrpoResult, type ModelSource } from '../../engine/protocol.ts';
import { engine } from '../engine/engine.svelte.ts';
import { storedAdapters } from '../engine/stored-adapters.svelte.ts';
import { RunLog } from '../train/run-log.ts';

class GrpoRunState {
  settings = $state(loadGrpoSettings());
  /** Where the prompts come from (a dataset or a query set); null: none picked. */
  prompts = $state<PromptSource | null>(null);
  /** The stored adapter merged into the base before training (the SFT model); null: the base alone. */
  sft = $state<{ id: string; name: string } | null>(null);
  running = $state<AbortController | null>(null);
  stopping = $state(false);
  pausing = $state(false);
  runs = $state.raw<GrpoRunRecord[]>([]);
  /** The stored record of the run in flight, or of this tab's last run. */
  record = $state.raw<GrpoRunRecord | null>(null);
  phase = $state<GrpoRunPhase | null>(null);
  progress = $state<GrpoProgress | null>(null);
  steps = $state.raw<GrpoStep[]>([]);
  gpuBytes = $state<number | null>(null);
  startedAt = $state(0);
  markAt = $state(0);
  clock = $state(0);
  result = $state.raw<GrpoResult | null>(null);
  /** The base model the result was trained on. */
  model = $state<string | null>(null);
  saved = $state<StoredAdapter | null>(null);
  used = $state<string | null>(null);
  notice = $state('');
  error = $state('');
  #trainedOn: unknown = null;
  #pause: AbortController | null = null;

  get elapsedSeconds(): number {
    return (this.clock - this.startedAt) / 1000;
  }

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
    // The last run's adapter is resident in the worker until it is used; a new run replaces it.
    const unused = this.result && !this.used ? this.result.adapter.id : null;
    if (unused) void engine.client.call({ type: 'unload-adapter', id: unused }).catch(() => {});
    this.#trainedOn = model;
    const db = await lab();
    const log = new RunLog(db, record, (r) => (this.record = r));
    this.record = record;
    const controller = new AbortController();
    this.#pause = new AbortController();
    this.running = controller;
    const at = performance.now();
    Object.assign(this, { steps: record.metrics, progress: null, result: null, saved: null, used: null, notice: '', stopping: false, pausing: false, gpuBytes: null });
    Object.assign(this, { model: model.name, phase: 'prompts', startedAt: at, markAt: at, clock: at });
    const tick = setInterval(() => (this.clock = performance.now()), 1000);
    let ended: Promise<unknown> = Promise.resolve();
    try {
      await log.begin();
      void this.refreshRuns();
      const prompts = await grpoPrompts(db, record.prompts);
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
      const result = await engine.client.call(
        { type: 'grpo', prompts, config, guard, maxSteps: config.grpo.maxSteps, adapterId: `grpo:${crypto.randomUUID()}`, sftAdapter, resume: checkpoint, checkpointEvery },
        {
          signal: controller.signal,
          pause: this.#pause.signal,
          onEvent: (event) => this.#receive(event, log),
          transfer: checkpoint ? Object.values(checkpoint.state.tensors).map((t) => t.buffer) : [],
        },
      );
      this.result = result;
      ended = log.end((r) => grpoEndedRecord(r, grpoStatus(result), result.halt?.message ?? grpoOutcomeLine(result), result.halt));
    } catch (err) {
      const cancelled = err instanceof EngineError && err.code === 'cancelled';
      if (cancelled) this.notice = 'Cancelled before step 1 ended: nothing was trained.';
      else this.error = messageOf(err);
      ended = log.end((r) => grpoEndedRecord(r, cancelled ? 'stopped' : 'failed', cancelled ? 'cancelled before step 1 ended' : messageOf(err)));
    } finally {
      clearInterval(tick);
      await ended.catch(() => {});
      if (log.failure) this.error = [this.error, `${log.failure}.`].filter(Boolean).join(' ');
      this.steps = log.record.metrics;
      Object.assign(this, { clock: performance.now(), running: null, phase: null, progress: null, stopping: false, pausing: false });
      this.#pause = null;
      await this.refreshRuns();
    }
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

  cancel(): void {
    if (!this.running || this.stopping) return;
    this.stopping = true;
    this.running.abort();
  }

  pause(): void {
    if (!this.running || this.stopping || this.pausing) return;
    this.pausing = true;
    this.#pause?.abort();
  }

  async deleteRun(id: string): Promise<void> {
    if (this.running && this.record?.id === id) return;
    try {
      await deleteTrainRun(await lab(), id);
      if (this.record?.id === id) this.record = null;
    } catch (err) {
      this.error = `could not delete the run: ${messageOf(err)}`;
    }
    await this.refreshRuns();
  }

  async save(name: string): Promise<void> {
    if (!this.result) return;
    this.error = '';
    try {
      this.saved = await saveAdapter(await lab(), { name, config: this.result.adapterConfig, weights: this.result.adapterWeights, checkedWith: this.model });
      if (this.used) storedAdapters.link(this.used, this.saved.id);
      await storedAdapters.refresh();
    } catch (err) {
      this.error = `could not save the adapter: ${messageOf(err)}`;
    }
  }

  /** Selects the trained adapter for Expand: resident in the worker since the run, or loaded from the result's files after a restart. */
  async use(name: string): Promise<void> {
    if (!this.result) return;
    const files = [new File([this.result.adapterConfig], ADAPTER_CONFIG), new File([this.result.adapterWeights], ADAPTER_WEIGHTS)];
    const source = { kind: 'files' as const, files, name };
    const { id } = this.result.adapter;
    if (engine.model && engine.model === this.#trainedOn) await engine.adoptAdapter({ ...this.result.adapter, name }, source);
    else if (!(await engine.loadAdapter(source, id, name))) return;
    this.used = id;
    if (this.saved) storedAdapters.link(id, this.saved.id);
  }
}

export const grpoRun = new GrpoRunState();
