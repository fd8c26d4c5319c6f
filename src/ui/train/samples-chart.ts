// Geometry of the samples chart (plain SVG, beside the loss chart): at each sampled step, the mean
// reward and the mean eval score of the adapter's expansions, on one 0–100 scale (the eval
// profile's percentage, the reward's 0–1 times 100), x over the run's steps as the loss chart has it.
import type { StepSamples } from '../../engine/protocol.ts';
import { polyline, stepX } from './loss-chart.ts';

export interface SamplePoint {
  x: number;
  y: number;
  step: number;
  /** In the profile's own unit: reward 0–1, eval 0–100 %. */
  score: number;
}

export interface SamplesChartLayout {
  width: number;
  height: number;
  reward: SamplePoint[];
  rewardLine: string;
  eval: SamplePoint[];
  evalLine: string;
  /** y and label of the 0, 50 and 100 gridlines. */
  grid: { y: number; label: string }[];
}

const TOP = 8;
const BOTTOM = 8;

/** The steps that carry samples, of `of`; a step whose samples the scorers all refused has no point. */
export function layoutSamplesChart(steps: readonly { step: number; samples?: StepSamples }[], of: number, width = 360, height = 180): SamplesChartLayout {
  const yOf = (percent: number) => TOP + (height - TOP - BOTTOM) * (1 - Math.max(0, Math.min(100, percent)) / 100);
  const series = (score: (s: StepSamples) => number | null, percent: (score: number) => number) =>
    steps.flatMap(({ step, samples }) => {
      const value = samples ? score(samples) : null;
      return value === null ? [] : [{ x: stepX(step, of, width), y: yOf(percent(value)), step, score: value }];
    });
  const reward = series((s) => s.reward, (r) => r * 100);
  const evaluation = series((s) => s.eval, (e) => e);
  return {
    width,
    height,
    reward,
    rewardLine: polyline(reward),
    eval: evaluation,
    evalLine: polyline(evaluation),
    grid: [100, 50, 0].map((p) => ({ y: yOf(p), label: `${p}` })),
  };
}

/** The last step that carries samples, or null. */
export function latestSamples<T extends { step: number; samples?: StepSamples }>(steps: readonly T[]): (T & { samples: StepSamples }) | null {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    if (s.samples) return s as T & { samples: StepSamples };
  }
  return null;
}
