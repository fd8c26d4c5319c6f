import { describe, expect, it } from 'vitest';
import { CHART_HEIGHT, layoutChart } from './chart.ts';

describe('layoutChart', () => {
  it('gives bar heights proportional to the score and one common baseline', () => {
    const { bars, grid } = layoutChart([100, 50, 0, 130, -5], ['a', 'b', 'c', 'd', 'e']);
    const base = grid.find((g) => g.label === '0')!.y;
    const full = base - grid.find((g) => g.label === '100')!.y;
    for (const bar of bars) expect(bar.y + bar.height).toBeCloseTo(base);
    expect(bars.map((b) => b.height / full)).toEqual([1, 0.5, 0, 1, 0]);
    expect(bars.map((b) => b.percent)).toEqual([100, 50, 0, 100, 0]);
  });
  it('keeps bars apart and inside the chart, growing wider than the minimum for many items', () => {
    const layout = layoutChart(Array.from({ length: 400 }, () => 50), []);
    expect(layout.width).toBeGreaterThan(600);
    for (let i = 1; i < layout.bars.length; i++) expect(layout.bars[i].x).toBeGreaterThanOrEqual(layout.bars[i - 1].x + layout.bars[i - 1].width);
    const last = layout.bars[layout.bars.length - 1];
    expect(last.x + last.width).toBeLessThanOrEqual(layout.width);
    expect(layout.height).toBe(CHART_HEIGHT);
  });
});
