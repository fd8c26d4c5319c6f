// Geometry of the loss chart (plain SVG): one point per optimizer step, x over the run's steps,
// y over the losses seen so far (padded so a flat line sits mid-chart).

export interface LossPoint {
  x: number;
  y: number;
  step: number;
  loss: number;
}

export interface LossChartLayout {
  width: number;
  height: number;
  points: LossPoint[];
  /** SVG polyline `points` attribute. */
  line: string;
  /** y and label of the top and bottom gridlines. */
  grid: { y: number; label: string }[];
}

const LEFT = 48;
const RIGHT = 10;
const TOP = 8;
const BOTTOM = 8;

/** `steps` of `of` (the run's total), losses in the order of the steps. */
export function layoutLossChart(steps: readonly { step: number; loss: number }[], of: number, width = 600, height = 180): LossChartLayout {
  const losses = steps.map((s) => s.loss);
  const low = Math.min(...losses);
  const high = Math.max(...losses);
  const pad = Math.max((high - low) * 0.1, Math.abs(high) * 0.01, 1e-6);
  const [min, max] = [low - pad, high + pad];
  const xOf = (step: number) => LEFT + ((width - LEFT - RIGHT) * (of <= 1 ? 0.5 : (step - 1) / (of - 1)));
  const yOf = (loss: number) => TOP + (height - TOP - BOTTOM) * (1 - (loss - min) / (max - min));
  const points = steps.map(({ step, loss }) => ({ x: xOf(step), y: yOf(loss), step, loss }));
  return {
    width,
    height,
    points,
    line: points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' '),
    grid: (steps.length === 0 ? [] : high === low ? [high] : [high, low]).map((v) => ({ y: yOf(v), label: v.toFixed(3) })),
  };
}
