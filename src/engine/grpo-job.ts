// One GRPO run on a loaded model — the job the engine worker (the page) and `qmd grpo` (onnxruntime-
// node) both run, as TRL's GRPOTrainer steps with num_iterations 1: per step, batch_size × grad_accum
// completions (G for each of that / G prompts) sampled with the adapter being trained, their rewards
// and advantages, the reference policy's log-probabilities (the session's weights with the adapter
// off: the SFT adapter is already merged into them), and one optimizer step over the window in
// micro-batches of batch_size rows (grpo-step.ts). Checkpoints every N steps (default 1: the drift
// guard rolls back to one), on a pause and at the end; a stop between completions and micro-batches
// discards the step in flight; the drift guard (grpo-guard.ts) ends the run and hands back the
// adapter of the checkpoint it rolls back to.
//
// LoRA dropout applies in the update's forward (as TRL trains with the model in train mode), not in
// sampling; the policy log-probabilities the KL terms use are the sampling pass's, without it.
import type { LoraAdapter } from '../model/peft.ts';
import { CHECKPOINT_VERSION, dataIdentity, resumeProblem } from './checkpoint.ts';
import { adapterFromState } from './grpo-checkpoint.ts';
import type { GrpoConfig } from './grpo-config.ts';
import { guardVerdict, GuardSnapshots } from './grpo-guard.ts';
import type { GrpoCheckpoint, GrpoCompletion, GrpoGroup, GrpoGuardSettings, GrpoHalt, GrpoOutcome, GrpoPhase, GrpoProgress, GrpoStep } from './grpo-protocol.ts';
import { promptIdsOf, qmdScore, RolloutCancelled, sampleGroup, stepPrompts, weightedReward, type GrpoPrompt, type GrpoScore, type GrpoScorer, type Rollout } from './grpo-rollout.ts';
import { completionLogps, grpoUpdate, policyWeights, scoreRows, type GrpoRow } from './grpo-step.ts';
import { EngineError, type SkippedRow } from './protocol.ts';
import type { Runtime } from './runtime.ts';
import { sftTrainer, skippedLines } from './sft.ts';
import type { TrainableModel } from './train-job.ts';
import { learningRate, trainConfigProblem } from './train-config.ts';
import { TrainedAdapter } from './trained-adapter.ts';
import { NonFiniteStep, StepCancelled, type LoraTrainer, type TrainerState } from './trainer.ts';

export interface GrpoJob {
  prompts: readonly GrpoPrompt[];
  config: GrpoConfig;
  guard: GrpoGuardSettings;
  /** The run's step limit; null: grpo.max_steps. */
  maxSteps: number | null;
  /** A run to continue: its settings, prompts and SFT adapter must be these (maxSteps and the guard may differ). */
  resume?: GrpoCheckpoint;
  /** Steps between checkpoints (hooks.onCheckpoint, and the states the drift guard can roll back to); default 1. */
  checkpointEvery?: number;
  /** The SFT adapter merged into the session's weights (recorded in checkpoints, checked on resume); absent: none. */
  sft?: GrpoCheckpoint['sft'];
  /**
   * For tests and experiments: scores each completion in place of QMD's reward and eval profiles
   * (qmdScore); the config's reward_weights still combine what it returns.
   */
  reward?: GrpoScorer;
}

export interface GrpoHooks {
  onStep?: (step: GrpoStep) => void;
  onPhase?: (phase: GrpoPhase) => void;
  /** Graph builds, completions and micro-batches as they start. */
  onProgress?: (progress: GrpoProgress) => void;
  /** Told the prompts left out (prompt + max_completion_length over max_length) before any step runs. */
  onSkipped?: (skipped: SkippedRow[]) => void;
  /** Awaited with each checkpoint; the checkpoint is the hook's (it may transfer its buffers). */
  onCheckpoint?: (checkpoint: GrpoCheckpoint) => Promise<void>;
  /** Asked before every step, completion, decode step, graph build and micro-batch: true ends the run there, discarding the step in flight. */
  stop?: () => boolean;
  /** Asked after each completed step but the last: true ends the run there, after that step's checkpoint (`paused` and `stopped`). */
  pause?: () => boolean;
  /** Milliseconds; `performance.now` unless a test drives the clock. */
  now?: () => number;
}

/** The id under which the adapter being trained sits on the session's decoder while a step samples. */
const POLICY_ID = 'grpo:policy';

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const copyState = (s: TrainerState): TrainerState => ({ step: s.step, tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, v]) => [k, Float32Array.from(v)])) });

/** The rows a job can run, its settings checked: prompt ids, prompts left out, completions and prompts per step. */
function planRun(model: TrainableModel, job: GrpoJob) {
  const { train, grpo } = job.config;
  const problem = trainConfigProblem(train);
  if (problem) throw new EngineError('internal', `cannot run GRPO: ${problem}`);
  for (const [what, n] of [['max steps', job.maxSteps], ['checkpoint every', job.checkpointEvery ?? 1], ['drift_guard.window_groups', job.guard.windowGroups]] as const) {
    if (n !== null && !(Number.isInteger(n) && n >= 1)) throw new EngineError('internal', `cannot run GRPO: ${what} must be an integer ≥ 1, got ${n}`);
  }
  const completions = train.training.batchSize * train.training.gradAccum;
  if (completions % grpo.numGenerations !== 0) {
    throw new EngineError('internal', `cannot run GRPO: a step samples training.batch_size × training.grad_accum = ${train.training.batchSize} × ${train.training.gradAccum} = ${completions} completions, which grpo.num_generations ${grpo.numGenerations} does not divide (each prompt gets num_generations of them)`);
  }
  const ids = promptIdsOf(job.prompts, model.tokenizer, train.promptFormat);
  const kept: number[] = [];
  const skipped: SkippedRow[] = [];
  ids.forEach((p, i) => (p.length + grpo.maxCompletionLength <= train.training.maxLength ? kept.push(i) : skipped.push({ line: job.prompts[i]!.line ?? null, promptTokens: p.length })));
  if (kept.length === 0) {
    const why = job.prompts.length === 0 ? 'there are no prompts' : `every prompt (${skippedLines(skipped)}) plus grpo.max_completion_length ${grpo.maxCompletionLength} is over training.max_length ${train.training.maxLength}`;
    throw new EngineError('internal', `cannot run GRPO: ${why}; raise the max length or shorten the completions`);
  }
  const prompts = kept.map((i) => ({ ...job.prompts[i]!, ids: ids[i]! }));
  return { prompts, skipped, perStep: completions / grpo.numGenerations, data: dataIdentity(prompts.map((p) => ({ ids: p.ids, completionMask: [] }))) };
}

/** A step's record from its groups and the update's numbers. */
function stepRecord(groups: GrpoGroup[], base: Omit<GrpoStep, 'reward' | 'rewardScore' | 'evalScore' | 'hardFailRate' | 'kl' | 'completionTokens' | 'zeroSpread' | 'groups'>): GrpoStep {
  const all = groups.flatMap((g) => g.completions);
  // A refused pair counts as a hard fail with every score 0.
  return {
    ...base,
    reward: mean(all.map((c) => c.reward)),
    rewardScore: mean(all.map((c) => c.rewardScore ?? 0)),
    evalScore: mean(all.map((c) => c.evalScore ?? 0)),
    hardFailRate: mean(all.map((c) => (c.hardFail ? 1 : 0))),
    kl: mean(all.map((c) => c.kl)),
    completionTokens: mean(all.map((c) => c.tokens)),
    zeroSpread: mean(groups.map((g) => (g.completions.every((c) => c.reward === g.completions[0]!.reward) ? 1 : 0))),
    groups,
  };
}

/**
 * Runs GRPO on `model`'s session (whose weights are the reference policy) from a fresh adapter
 * (config.train.lora, seeded by training.seed) or a checkpoint's state, until the run's last step,
 * a stop, a pause or the drift guard. The outcome holds the adapter of the last completed step, or
 * on a halt the rolled-back one.
 */
export async function runGrpoJob(runtime: Runtime, model: TrainableModel, job: GrpoJob, hooks: GrpoHooks = {}): Promise<GrpoOutcome & { adapter: LoraAdapter }> {
  const { config, guard, maxSteps, resume } = job;
  const { train, grpo } = config;
  const every = job.checkpointEvery ?? 1;
  const sft = job.sft ?? null;
  const scorer = job.reward ?? qmdScore;
  const plan = planRun(model, job);
  hooks.onSkipped?.(plan.skipped);
  const total = Math.min(maxSteps ?? Infinity, grpo.maxSteps);
  if (resume) {
    const mismatch = resume.kind !== 'grpo' ? 'it is not a GRPO run\'s checkpoint' : resumeProblem(resume, { train, grpo }, plan.data);
    if (mismatch) throw new EngineError('internal', `cannot resume: ${mismatch}`);
    if ((resume.sft?.fingerprint ?? null) !== (sft?.fingerprint ?? null)) {
      const name = (s: typeof sft) => (s ? `${s.name} (fingerprint ${s.fingerprint})` : 'none');
      throw new EngineError('internal', `cannot resume: the checkpoint's run was trained on top of the SFT adapter ${name(resume.sft)}, this one on ${name(sft)}`);
    }
    if (resume.state.step >= total) throw new EngineError('internal', `cannot resume: the checkpoint has completed step ${resume.state.step}, and this run ends at step ${total}`);
  }
  const now = hooks.now ?? (() => performance.now());
  const progress = hooks.onProgress ?? (() => {});
  const { session, tokenizer } = model;
  hooks.onPhase?.('compile');
  const weights = await policyWeights(runtime, session, grpo.temperature);
  let trainer: LoraTrainer | null = null;
  let policy: TrainedAdapter | null = null;
  try {
    trainer = await sftTrainer(runtime, model.config, { weights: weights.weights, layout: session.layout, transposed: true }, train, {
      onGraph: (graph) => progress({ kind: 'graph', ...graph }),
      resume: resume && { lora: resume.lora, state: resume.state },
    });
    const t = trainer;
    // The adapter being trained reaches the decoder by a Transpose on the device, each step (trained-adapter.ts).
    policy = await TrainedAdapter.create(session, t);
    const started = now();
    const before = resume?.metrics.at(-1)?.seconds ?? 0;
    const steps: GrpoStep[] = [...(resume?.metrics ?? [])];
    const snapshots = new GuardSnapshots();
    snapshots.add(resume ? copyState(resume.state) : await t.exportState());
    let saved = t.stepCount;
    let stopped = false;
    let pausing = false;
    const stop = () => hooks.stop?.() ?? false;
    const save = async (state: TrainerState) => {
      snapshots.add(state);
      saved = state.step;
      await hooks.onCheckpoint?.({ version: CHECKPOINT_VERSION, kind: 'grpo', config: { train, grpo }, guard, maxSteps, totalSteps: total, lora: t.lora, data: plan.data, sft, metrics: [...steps], state: copyState(state) });
    };

    while (t.stepCount < total) {
      if (stop()) {
        stopped = true;
        break;
      }
      const step = t.stepCount; // 0-based
      const stepStarted = now();
      hooks.onPhase?.('generation');
      const chosen = stepPrompts(plan.prompts.length, plan.perStep, step, train.training.seed);
      const rollouts: Rollout[] = [];
      const scores: GrpoScore[] = [];
      try {
        await policy.publish(POLICY_ID);
        await session.useAdapter(POLICY_ID);
        for (const [k, index] of chosen.entries()) {
          const prompt = plan.prompts[index]!;
          const group = await sampleGroup(session, tokenizer, prompt.ids, {
            grpo,
            seed: train.training.seed,
            step,
            prompt: k,
            stop,
            onCompletion: (g) => progress({ kind: 'generation', step: step + 1, index: k * grpo.numGenerations + g + 1, of: chosen.length * grpo.numGenerations }),
          });
          rollouts.push(...group);
          scores.push(...group.map((r) => scorer(prompt.query, r.text)));
        }
      } catch (error) {
        if (!(error instanceof RolloutCancelled)) throw error;
        stopped = true;
        break;
      }
      const generated = now();
      hooks.onPhase?.('update');
      await session.useAdapter(null); // the reference policy
      const ref: number[][] = [];
      for (const r of rollouts) {
        if (stop()) break;
        ref.push(await completionLogps(session, r.row, grpo.temperature));
      }
      if (ref.length < rollouts.length) {
        stopped = true;
        break;
      }
      const rewards = chosen.map((_, k) => scores.slice(k * grpo.numGenerations, (k + 1) * grpo.numGenerations).map((s) => weightedReward(s, grpo.rewardWeights)));
      const rows: GrpoRow[] = rollouts.map((r) => r.row);
      const scored = scoreRows(rows, rewards, rollouts.map((r) => r.logp), ref, grpo, train.training.batchSize);
      const lr = learningRate(train.optimizer, step, total);
      let gradNorm: number;
      try {
        ({ gradNorm } = await grpoUpdate(t, scored, train.training, lr, { stop, onMicroBatch: (index, of) => progress({ kind: 'micro-batch', step: step + 1, index, of }) }));
      } catch (error) {
        if (error instanceof StepCancelled) {
          stopped = true;
          break;
        }
        if (error instanceof NonFiniteStep) throw new EngineError('internal', `GRPO step ${step + 1} of ${total}: ${error.message}, so the run stopped there (its adapter is that of step ${step})`);
        throw error;
      }
      const done = now();
      const advantages = scored.advantages.flat();
      const groups: GrpoGroup[] = chosen.map((index, k) => ({
        query: plan.prompts[index]!.query,
        completions: Array.from({ length: grpo.numGenerations }, (_, g): GrpoCompletion => {
          const n = k * grpo.numGenerations + g;
          const { row } = rollouts[n]!;
          const s = scores[n]!;
          return { text: rollouts[n]!.text, reward: rewards[k]![g]!, rewardScore: s.rewardScore, evalScore: s.evalScore, hardFail: s.hardFail, ...(s.refused === undefined ? {} : { refused: s.refused }), advantage: advantages[n]!, kl: scored.terms.kl[n]!, tokens: row.example.ids.length - row.prompt - (row.truncated ? 0 : 1), truncated: row.truncated };
        }),
      }));
      const record = stepRecord(groups, { step: step + 1, of: total, loss: scored.terms.loss, lr, gradNorm, generationSeconds: (generated - stepStarted) / 1000, updateSeconds: (done - generated) / 1000, seconds: before + (done - started) / 1000 });
      steps.push(record);
      hooks.onStep?.(record);
      const verdict = guardVerdict(steps, guard);
      if (verdict) {
        const state = snapshots.target(record.step);
        const halt: GrpoHalt = { ...verdict, rolledBackTo: state.step };
        hooks.onPhase?.('export');
        return { steps, stopped: false, paused: false, halt, seconds: (now() - started) / 1000, adapter: adapterFromState(model.config, t.lora, state) };
      }
      const pause = record.step < total && (hooks.pause?.() ?? false);
      if (record.step % every === 0 || pause) await save(await t.exportState());
      snapshots.prune(record.step);
      if (pause) {
        pausing = true;
        stopped = true;
        break;
      }
    }
    if (t.stepCount === 0 && stopped) throw new EngineError('cancelled', `the GRPO run was cancelled during step 1 of ${total}: no step completed, so nothing was trained`);
    if (hooks.onCheckpoint && saved < t.stepCount) await save(await t.exportState());
    hooks.onPhase?.('export');
    return { steps, stopped, paused: pausing, halt: null, seconds: (now() - started) / 1000, adapter: await t.adapter() };
  } finally {
    await session.removeAdapter(POLICY_ID);
    await policy?.release();
    await trainer?.release();
    weights.release();
  }
}
