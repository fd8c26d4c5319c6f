// Geometry of the loss chart (plain SVG): one point per optimizer step, and one per validation
// loss at the step it was computed after, x over the run's steps, y over the losses seen so far
// (both series; padded so a flat line sits mid-chart). The step axis and the polyline serve the
// samples chart too (samples-chart.ts).

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
  /** The steps that carry a validation loss, at it. */
  validation: LossPoint[];
  validationLine: string;
  /** y and label of the top and bottom gridlines. */
  grid: { y: number; label: string }[];
}

const LEFT = 48;
const RIGHT = 10;
const TOP = 8;
const BOTTOM = 8;

/** x of step `step` of `of` (the run's total) in a chart `width` wide: the first at the axis, the last at the right edge. */
export const stepX = (step: number, of: number, width: number) => LEFT + (width - LEFT - RIGHT) * (of <= 1 ? 0.5 : (step - 1) / (of - 1));

/** An SVG polyline `points` attribute through `points`. */
export const polyline = (points: readonly { x: number; y: number }[]) => points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');

/** `steps` of `of` (the run's total), losses in the order of the steps. */
export function layoutLossChart(steps: readonly { step: number; loss: number; validationLoss?: number }[], of: number, width = 600, height = 180): LossChartLayout {
  const validated = steps.flatMap(({ step, validationLoss }) => (validationLoss === undefined ? [] : [{ step, loss: validationLoss }]));
  const losses = [...steps, ...validated].map((s) => s.loss);
  const low = Math.min(...losses);
  const high = Math.max(...losses);
  const pad = Math.max((high - low) * 0.1, Math.abs(high) * 0.01, 1e-6);
  const [min, max] = [low - pad, high + pad];
  const yOf = (loss: number) => TOP + (height - TOP - BOTTOM) * (1 - (loss - min) / (max - min));
  const place = (series: readonly { step: number; loss: number }[]) => series.map(({ step, loss }) => ({ x: stepX(step, of, width), y: yOf(loss), step, loss }));
  const points = place(steps);
  const validation = place(validated);
  return {
    width,
    height,
    points,
    line: polyline(points),
    validation,
    validationLine: polyline(validation),
    grid: (steps.length === 0 ? [] : high === low ? [high] : [high, low]).map((v) => ({ y: yOf(v), label: v.toFixed(3) })),
  };
}
