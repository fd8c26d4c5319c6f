import { describe, expect, it } from 'vitest';
import { layoutLossChart } from './loss-chart.ts';

describe('layoutLossChart', () => {
  it('spreads steps over the run and puts lower losses lower, inside the plot', () => {
    const chart = layoutLossChart([{ step: 1, loss: 3 }, { step: 2, loss: 1 }, { step: 3, loss: 2 }], 5, 600, 180);
    const [a, b, c] = chart.points;
    expect(b!.x - a!.x).toBeCloseTo(c!.x - b!.x, 9);
    expect(a!.x).toBeLessThan(b!.x);
    expect(b!.y).toBeGreaterThan(c!.y);
    expect(c!.y).toBeGreaterThan(a!.y);
    for (const p of chart.points) expect(p.y > 0 && p.y < 180 && p.x > 0 && p.x < 600).toBe(true);
    expect(chart.grid.map((g) => g.label)).toEqual(['3.000', '1.000']);
    expect(chart.line.split(' ')).toHaveLength(3);
  });

  it('draws a flat run mid-chart with one gridline', () => {
    const chart = layoutLossChart([{ step: 1, loss: 12 }, { step: 2, loss: 12 }], 2, 600, 180);
    expect(chart.points[0]!.y).toBeCloseTo(90, 9);
    expect(chart.grid).toHaveLength(1);
  });

  it('puts validation losses at their steps on the same scale, and the range covers both series', () => {
    const chart = layoutLossChart([{ step: 1, loss: 3 }, { step: 2, loss: 2, validationLoss: 4 }, { step: 3, loss: 1 }, { step: 4, loss: 1, validationLoss: 1.5 }], 4);
    expect(chart.validation.map((p) => [p.step, p.loss])).toEqual([[2, 4], [4, 1.5]]);
    expect(chart.validation[0]!.x).toBe(chart.points[1]!.x);
    // Above every train point (4 is the top of the range) and inside the plot.
    expect(Math.min(...chart.points.map((p) => p.y))).toBeGreaterThan(chart.validation[0]!.y);
    expect(chart.validation[0]!.y).toBeGreaterThan(0);
    expect(chart.grid.map((g) => g.label)).toEqual(['4.000', '1.000']);
    expect(chart.validationLine.split(' ')).toHaveLength(2);
  });
});
