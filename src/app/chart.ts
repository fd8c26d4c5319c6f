// Geometry of the per-query score chart (plain SVG bars, one per item, 0–100 %).

export interface ChartBar {
  x: number;
  y: number;
  width: number;
  height: number;
  percent: number;
  label: string;
}

export interface ChartLayout {
  width: number;
  height: number;
  bars: ChartBar[];
  /** y of the 0, 50 and 100 % gridlines. */
  grid: { y: number; label: string }[];
}

export const CHART_HEIGHT = 160;
const AXIS = 34;
const TOP = 6;
const BOTTOM = 4;

/** Bars for `percents` (0–100, clamped) in a chart at least `minWidth` wide, `gap` px apart. */
export function layoutChart(percents: readonly number[], labels: readonly string[], minWidth = 600, gap = 2): ChartLayout {
  const barWidth = Math.max(4, Math.min(36, (minWidth - AXIS) / Math.max(1, percents.length) - gap));
  const width = Math.max(minWidth, AXIS + percents.length * (barWidth + gap));
  const plot = CHART_HEIGHT - TOP - BOTTOM;
  const yOf = (percent: number) => TOP + plot * (1 - percent / 100);
  const bars = percents.map((raw, i) => {
    const percent = Math.max(0, Math.min(100, raw));
    const y = yOf(percent);
    return { x: AXIS + i * (barWidth + gap), y, width: barWidth, height: TOP + plot - y, percent, label: labels[i] ?? '' };
  });
  return { width, height: CHART_HEIGHT, bars, grid: [0, 50, 100].map((p) => ({ y: yOf(p), label: `${p}` })) };
}
