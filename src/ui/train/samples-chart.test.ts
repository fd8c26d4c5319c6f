import { describe, expect, it } from 'vitest';
import type { StepSamples } from '../../engine/protocol.ts';
import { layoutLossChart } from './loss-chart.ts';
import { latestSamples, layoutSamplesChart } from './samples-chart.ts';

const samples = (reward: number | null, evaluation: number | null): StepSamples => ({ reward, eval: evaluation, items: [] });

describe('layoutSamplesChart', () => {
  const steps = [{ step: 1 }, { step: 2, samples: samples(0.5, 80) }, { step: 3 }, { step: 4, samples: samples(1, 20) }, { step: 5, samples: samples(null, null) }];

  it('puts each sampled step at the x the loss chart gives it, reward × 100 and eval % on one 0–100 scale', () => {
    const chart = layoutSamplesChart(steps, 6, 600, 180);
    const loss = layoutLossChart([{ step: 2, loss: 1 }, { step: 4, loss: 1 }], 6, 600, 180);
    expect(chart.reward.map((p) => [p.step, p.score, p.x])).toEqual([[2, 0.5, loss.points[0]!.x], [4, 1, loss.points[1]!.x]]);
    expect(chart.eval.map((p) => [p.step, p.score])).toEqual([[2, 80], [4, 20]]);
    const [top, mid, bottom] = chart.grid;
    expect(chart.grid.map((g) => g.label)).toEqual(['100', '50', '0']);
    // Reward 0.5 sits on the 50 line, reward 1 on the 100 line; eval 80 % above eval 20 %.
    expect(chart.reward[0]!.y).toBeCloseTo(mid!.y, 9);
    expect(chart.reward[1]!.y).toBeCloseTo(top!.y, 9);
    expect(chart.eval[0]!.y).toBeLessThan(chart.eval[1]!.y);
    for (const p of [...chart.reward, ...chart.eval]) expect(p.y >= top!.y && p.y <= bottom!.y).toBe(true);
    expect(chart.rewardLine.split(' ')).toHaveLength(2);
  });

  it('leaves out steps without samples and those whose samples the scorers all refused', () => {
    expect(layoutSamplesChart([{ step: 1 }], 3).reward).toEqual([]);
    expect(layoutSamplesChart(steps, 6).eval.map((p) => p.step)).toEqual([2, 4]);
  });

  it('finds the latest sampled step, refused or not', () => {
    expect(latestSamples(steps)?.step).toBe(5);
    expect(latestSamples(steps.slice(0, 3))?.step).toBe(2);
    expect(latestSamples([{ step: 1 }])).toBeNull();
  });
});
