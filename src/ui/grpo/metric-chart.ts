// Geometry of the GRPO run's live charts (plain SVG, the loss chart's step axis): one chart per
// concern — the reward and its components, the format's hard fails and the groups with no reward
// spread, the KL to the reference, the completion length, the loss, the gradient norm — each a
// line per series over the run's steps, y over the values seen so far unless the chart has a fixed range.
import type { GrpoStep } from '../../engine/grpo-protocol.ts';
import { polyline, stepX } from '../train/loss-chart.ts';

export interface MetricSeries {
  id: string;
  label: string;
  value: (step: GrpoStep) => number;
}

export interface MetricChartSpec {
  id: string;
  title: string;
  series: readonly MetricSeries[];
  /** A fixed y range (fractions: 0–1); absent: the values' own, padded. */
  range?: readonly [number, number];
  format: (value: number) => string;
}

const fixed = (digits: number) => (v: number) => v.toFixed(digits);
const percent = (v: number) => `${(v * 100).toFixed(0)} %`;

export const GRPO_CHARTS: readonly MetricChartSpec[] = [
  {
    id: 'reward',
    title: 'Mean reward and its components',
    series: [
      { id: 'reward', label: 'reward (what the advantages use)', value: (s) => s.reward },
      { id: 'reward-score', label: 'reward profile, 0–1', value: (s) => s.rewardScore },
      { id: 'eval-score', label: 'eval profile / 100', value: (s) => s.evalScore / 100 },
    ],
    format: fixed(3),
  },
  {
    id: 'format',
    title: 'Format hard fails and groups with no reward spread',
    series: [
      { id: 'hard-fail', label: 'hard-fail rate', value: (s) => s.hardFailRate },
      { id: 'zero-spread', label: 'zero-spread groups (no gradient)', value: (s) => s.zeroSpread },
    ],
    range: [0, 1],
    format: percent,
  },
  { id: 'kl', title: 'Mean KL to the reference (SFT) model', series: [{ id: 'kl', label: 'KL', value: (s) => s.kl }], format: fixed(4) },
  { id: 'length', title: 'Mean completion length', series: [{ id: 'tokens', label: 'tokens', value: (s) => s.completionTokens }], format: fixed(1) },
  { id: 'loss', title: 'Loss', series: [{ id: 'loss', label: 'loss', value: (s) => s.loss }], format: fixed(4) },
  { id: 'grad-norm', title: 'Gradient norm (before clipping)', series: [{ id: 'grad-norm', label: 'grad norm', value: (s) => s.gradNorm }], format: fixed(3) },
];

export interface MetricPoint {
  x: number;
  y: number;
  step: number;
  value: number;
}

export interface MetricChartLayout {
  width: number;
  height: number;
  series: { id: string; label: string; points: MetricPoint[]; line: string }[];
  /** y and label of the top and bottom gridlines. */
  grid: { y: number; label: string }[];
}

const TOP = 8;
const BOTTOM = 8;

/** `spec`'s series over `steps` of `of` (the run's total); a value that is not finite has no point. */
export function layoutMetricChart(steps: readonly GrpoStep[], of: number, spec: MetricChartSpec, width = 360, height = 150): MetricChartLayout {
  const values = spec.series.map((s) => steps.map((step) => ({ step: step.step, value: s.value(step) })).filter((p) => Number.isFinite(p.value)));
  const all = values.flat().map((p) => p.value);
  const [low, high] = spec.range ?? [Math.min(...all), Math.max(...all)];
  const pad = spec.range ? 0 : Math.max((high - low) * 0.1, Math.abs(high) * 0.01, 1e-6);
  const [min, max] = [low - pad, high + pad];
  const yOf = (v: number) => TOP + (height - TOP - BOTTOM) * (1 - (Math.max(min, Math.min(max, v)) - min) / (max - min));
  const series = spec.series.map((s, i) => {
    const points = values[i]!.map(({ step, value }) => ({ x: stepX(step, of, width), y: yOf(value), step, value }));
    return { id: s.id, label: s.label, points, line: polyline(points) };
  });
  const lines = all.length === 0 && !spec.range ? [] : high === low ? [high] : [high, low];
  return { width, height, series, grid: lines.map((v) => ({ y: yOf(v), label: spec.format(v) })) };
}
