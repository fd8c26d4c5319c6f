// The drift guard of a GRPO run (grpo.yaml `drift_guard`): after each step, two rules — the
// format hard-fail rate over the last N groups, and the step's mean KL to the SFT model — and,
// when one fires, the checkpoint the run goes back to.
//
// Which checkpoint: a step's completions are sampled by the adapter the step before left, so the
// step a rule fires at judges the adapter of the step before it. The run therefore goes back to
// the last checkpoint taken before that adapter — at most two steps before the firing step (the
// fresh adapter, step 0, when there is none). A run keeps those checkpoints' states in memory
// (GuardSnapshots), so a rollback reads nothing back.
import type { GrpoGroup, GrpoGuardSettings, GrpoHalt, GrpoStep } from './grpo-protocol.ts';
import type { TrainerState } from './trainer.ts';

const percent = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The rule that fires after the last of `steps` (the run's steps so far, in order), or null. */
export function guardVerdict(steps: readonly GrpoStep[], guard: GrpoGuardSettings): Omit<GrpoHalt, 'rolledBackTo'> | null {
  const last = steps.at(-1);
  if (!last) return null;
  if (last.kl > guard.maxKl) {
    return { rule: 'kl', step: last.step, groups: last.groups, message: `step ${last.step}: the mean KL to the SFT model is ${last.kl.toPrecision(4)}, above the drift guard's max_kl ${guard.maxKl}` };
  }
  // The window's groups, newest last; a window not yet full is not judged (a rate of a few groups is noise).
  const groups: GrpoGroup[] = [];
  for (let i = steps.length - 1; i >= 0 && groups.length < guard.windowGroups; i--) {
    const own = steps[i]!.groups;
    groups.unshift(...own.slice(Math.max(0, own.length - (guard.windowGroups - groups.length))));
  }
  if (groups.length < guard.windowGroups) return null;
  const completions = groups.flatMap((g) => g.completions);
  const rate = completions.filter((c) => c.hardFail).length / completions.length;
  if (rate <= guard.maxHardFailRate) return null;
  return {
    rule: 'hard-fail-rate',
    step: last.step,
    groups,
    message: `step ${last.step}: ${percent(rate)} of the completions of the last ${guard.windowGroups} groups hard-failed the format, above the drift guard's max_hard_fail_rate ${percent(guard.maxHardFailRate)}`,
  };
}

/** The trainer states a rollback may go back to: the run's first (fresh or resumed) and its checkpoints since. */
export class GuardSnapshots {
  private states: TrainerState[] = [];

  /** A state taken after its step (state.step), in step order. */
  add(state: TrainerState): void {
    this.states.push(state);
  }

  /** The state a rule firing at step `firedAt` rolls back to (see the module comment); the earliest kept when none is that old. */
  target(firedAt: number): TrainerState {
    const before = this.states.filter((s) => s.step <= firedAt - 2);
    return before.at(-1) ?? this.states[0]!;
  }

  /** Forgets the states no rule firing after step `done` can go back to (all but the last at or before done − 1, and later ones). */
  prune(done: number): void {
    const keep = this.states.findLastIndex((s) => s.step <= done - 1);
    if (keep > 0) this.states = this.states.slice(keep);
  }
}
