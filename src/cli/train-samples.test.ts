// `qmd train --sample-every N --sample-queries K --samples-out FILE`: every N-th step's JSON line
// holds the mean reward and eval score of the first K validation queries as the adapter so far
// expands them, and FILE holds each expansion with its scores — which the scorers give again for
// the same text; the flags are refused where they cannot work (no cadence, no validation rows).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { scoreBoth } from '../scoring/index.ts';
import { runCli } from '../testing/cli.ts';
import { main as trainMain } from './train.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-train-samples-'));
const model = join(dir, 'model');
const data = join(dir, 'data.jsonl');
const QUERIES = ['vote online', 'rust traits', 'git rebase', 'sqlite wal', 'docker prune', 'nginx proxy', 'ssh keys', 'cron syntax'];
const config = (split: number) =>
  [
    'lora: { r: 2, alpha: 4, dropout: 0, rslora: false, targets: [q_proj, v_proj] }',
    'optimizer: { lr: 1.0e-2, schedule: constant, warmup_ratio: 0, betas: [0.9, 0.999], eps: 1.0e-8, weight_decay: 0.0, max_grad_norm: 1.0 }',
    'training: { epochs: 1, batch_size: 2, grad_accum: 1, max_length: 48, loss_on: completion, seed: 42 }',
    `eval: { split: ${split}, seed: 42 }`,
    'prompt_format: qmd-v4',
    '',
  ].join('\n');

beforeAll(async () => {
  await makeTinyModel(model, { seed: 5 });
  await writeFile(data, QUERIES.map((q) => JSON.stringify({ input: q, output: `lex: ${q}\nvec: how to ${q}` })).join('\n') + '\n');
  await writeFile(join(dir, 'split.yaml'), config(0.25));
  await writeFile(join(dir, 'none.yaml'), config(0));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Line {
  step?: number;
  samples?: { reward: number | null; eval: number | null; queries: number; refused: number };
  eval_loss?: number;
}
interface Sample {
  step: number;
  query: string;
  expansion: string;
  reward: number | null;
  eval: number | null;
}

const args = (yaml: string, ...more: string[]) => ['--model', model, '--data', data, '--config', join(dir, yaml), '--out', join(dir, 'out'), '--max-steps', '2', ...more];

describe('qmd train --sample-every', () => {
  it("prints every N-th step's mean reward and eval, and writes each scored expansion to --samples-out", async () => {
    const file = join(dir, 'samples.jsonl');
    const run = await runCli(trainMain, args('split.yaml', '--sample-every', '2', '--sample-queries', '2', '--samples-out', file));
    expect(run.code).toBe(0);
    const lines = run.out.trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => l.step ?? 'eval')).toEqual([1, 2, 'eval']);
    // Step 1 is not a multiple of 2: its line is as it would be without the flag.
    expect(lines[0]).not.toHaveProperty('samples');
    const samples = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
    // 8 rows, a quarter held out: 2 validation queries, both expanded after step 2.
    expect(samples.map((s) => s.step)).toEqual([2, 2]);
    expect(new Set(samples.map((s) => s.query)).size).toBe(2);
    for (const s of samples) {
      expect(QUERIES).toContain(s.query);
      // The scores written are the scorers' for the text written.
      const again = scoreBoth(s.query, s.expansion);
      expect([s.reward, s.eval]).toEqual([again.reward.reward, again.eval.percentage]);
    }
    const mean = (of: (s: Sample) => number | null) => +((of(samples[0]!)! + of(samples[1]!)!) / 2).toFixed(5);
    expect(lines[1]!.samples).toEqual({ reward: mean((s) => s.reward), eval: mean((s) => s.eval), queries: 2, refused: 0 });
  }, 120_000);

  it('refuses sampling flags without a cadence, and a cadence with no validation rows to expand', async () => {
    for (const more of [['--sample-queries', '2'], ['--samples-out', join(dir, 'x.jsonl')], ['--sample-every', '0'], ['--sample-every', '1', '--sample-queries', '1.5']]) {
      const run = await runCli(trainMain, args('split.yaml', ...more));
      expect(run.code).toBe(2);
      expect(run.err).toContain('[--sample-every N [--sample-queries K (default 4)] [--samples-out FILE.jsonl]]');
    }
    await expect(runCli(trainMain, args('none.yaml', '--sample-every', '1'))).rejects.toThrow(
      `${join(dir, 'none.yaml')}: --sample-every expands validation queries, and eval.split 0 holds out none of ${data}'s 8 rows: set eval.split above 0`,
    );
  });
});
