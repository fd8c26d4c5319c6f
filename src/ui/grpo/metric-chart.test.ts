import { describe, expect, it } from 'vitest';
import type { GrpoCompletion, GrpoStep } from '../../engine/grpo-protocol.ts';
import { GRPO_CHARTS, layoutMetricChart } from './metric-chart.ts';

const completion = (reward: number): GrpoCompletion => ({ text: 'lex: a', reward, rewardScore: reward, evalScore: reward * 100, hardFail: reward === 0, advantage: 0, kl: 0, tokens: 4, truncated: false });

const step = (n: number, change: Partial<GrpoStep> = {}): GrpoStep => ({
  step: n, of: 4, loss: 0.1 * n, lr: 5e-7, gradNorm: 0.2 * n, reward: 0.5 + n / 10, rewardScore: 0.4 + n / 10, evalScore: 30 + n, hardFailRate: n === 1 ? 0.5 : 0,
  kl: 0.01 * n, completionTokens: 6 + n, zeroSpread: 0.25, generationSeconds: 1, updateSeconds: 1, seconds: 3 * n,
  groups: [{ query: 'q', completions: [completion(0.5), completion(0.7)] }], ...change,
});

const chart = (id: string) => GRPO_CHARTS.find((c) => c.id === id)!;

describe('the GRPO charts', () => {
  it('draw every metric the drift guard and the issue name, one point per step and series', () => {
    const ids = GRPO_CHARTS.flatMap((c) => c.series.map((s) => s.id));
    expect(ids).toEqual(['reward', 'reward-score', 'eval-score', 'hard-fail', 'zero-spread', 'kl', 'tokens', 'loss', 'grad-norm']);
    const steps = [step(1), step(2), step(3)];
    for (const spec of GRPO_CHARTS) {
      const layout = layoutMetricChart(steps, 4, spec);
      for (const s of layout.series) expect(s.points.map((p) => p.step), `${spec.id}/${s.id}`).toEqual([1, 2, 3]);
    }
  });

  it('reads each series from its own field: the eval profile on the 0–1 scale of the others', () => {
    const layout = layoutMetricChart([step(1), step(2)], 4, chart('reward'));
    const values = Object.fromEntries(layout.series.map((s) => [s.id, s.points.map((p) => p.value)]));
    expect(values['reward']).toEqual([0.6, 0.7]);
    expect(values['reward-score']![1]).toBeCloseTo(0.6);
    expect(values['eval-score']).toEqual([0.31, 0.32]);
    const kl = layoutMetricChart([step(1), step(2)], 4, chart('kl')).series[0]!.points.map((p) => p.value);
    expect(kl).toEqual([0.01, 0.02]);
  });

  it('keeps fractions on a fixed 0–1 axis: 0 at the bottom, 100 % at the top, x over the run’s steps', () => {
    const layout = layoutMetricChart([step(1), step(2)], 4, chart('format'), 360, 150);
    const [hard] = layout.series;
    expect(hard!.points[0]!.y).toBeCloseTo(8 + (150 - 16) * 0.5);
    expect(hard!.points[1]!.y).toBeCloseTo(150 - 8);
    expect(layout.grid.map((g) => g.label)).toEqual(['100 %', '0 %']);
    // Step 1 of 4 at the axis, step 2 a third of the way along.
    expect(hard!.points[0]!.x).toBeCloseTo(48);
    expect(hard!.points[1]!.x).toBeCloseTo(48 + (360 - 58) / 3);
  });

  it('leaves out a value that is not finite, and draws a lone step mid-way with one gridline', () => {
    const layout = layoutMetricChart([step(1), step(2, { kl: Number.NaN })], 4, chart('kl'));
    expect(layout.series[0]!.points.map((p) => p.step)).toEqual([1]);
    expect(layout.grid).toHaveLength(1);
    expect(layoutMetricChart([], 1, chart('loss')).series[0]!.points).toEqual([]);
    expect(layoutMetricChart([], 1, chart('loss')).grid).toEqual([]);
  });
});
