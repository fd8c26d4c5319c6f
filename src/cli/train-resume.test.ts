// `qmd train --checkpoint-every N` and `--resume DIR`: a run stopped after step 4 of 6 (at a
// constant learning rate, so --max-steps 4 changes no step's rate) and resumed from its
// checkpoint writes the adapter and the checkpoint of the run that went straight to step 6, byte
// for byte; other data or settings are refused naming what differs, before a step runs.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../testing/cli.ts';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { main as trainMain } from './train.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-train-resume-'));
const model = join(dir, 'model');
const data = join(dir, 'data.jsonl');
const config = join(dir, 'run.yaml');
beforeAll(async () => {
  await makeTinyModel(model, { seed: 11 });
  const rows = ['vote online', 'rust traits', 'git rebase', 'sqlite wal', 'docker prune'].map((q) => JSON.stringify({ input: q, output: `lex: ${q}\nvec: how to ${q}` }));
  await writeFile(data, rows.join('\n') + '\n');
  // Dropout and 2 micro-batches per step; 3 steps an epoch, so step 4 is past the first epoch.
  await writeFile(
    config,
    [
      'lora: { r: 2, alpha: 4, dropout: 0.1, rslora: false, targets: [q_proj, v_proj] }',
      'optimizer: { lr: 1.0e-2, schedule: constant, warmup_ratio: 0, betas: [0.9, 0.999], eps: 1.0e-8, weight_decay: 0.0, max_grad_norm: 1.0 }',
      'training: { epochs: 2, batch_size: 1, grad_accum: 2, max_length: 48, loss_on: completion, seed: 42 }',
      'eval: { split: 0, seed: 42 }',
      'prompt_format: qmd-v4',
      '',
    ].join('\n'),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (args: string[]): Promise<CliRun> => runCli(trainMain, ['--model', model, '--data', data, '--config', config, ...args]);

const steps = (out: string) => out.trim().split('\n').map((line) => JSON.parse(line) as { step: number; loss: number });
const file = (...path: string[]) => readFileSync(join(dir, ...path));

describe('qmd train --resume', () => {
  it('continues a stopped run to the bytes of the uninterrupted one', async () => {
    const whole = await run(['--out', join(dir, 'whole'), '--checkpoint-every', '3']);
    expect(whole.code).toBe(0);
    expect(steps(whole.out).map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const first = await run(['--out', join(dir, 'first'), '--checkpoint-every', '2', '--max-steps', '4']);
    expect(steps(first.out).map((s) => s.step)).toEqual([1, 2, 3, 4]);
    const rest = await run(['--out', join(dir, 'rest'), '--resume', join(dir, 'first', 'checkpoint'), '--max-steps', '6', '--checkpoint-every', '2']);
    expect(rest.code).toBe(0);
    expect(rest.err).toContain("the checkpoint's run stopped at 4; this one at 6: the learning-rate schedule is recomputed for it");
    expect(steps(rest.out).map((s) => s.step)).toEqual([5, 6]);
    expect(steps(rest.out).map((s) => s.loss)).toEqual(steps(whole.out).slice(4).map((s) => s.loss));
    expect(file('rest', 'adapter_model.safetensors').equals(file('whole', 'adapter_model.safetensors'))).toBe(true);
    expect(file('rest', 'checkpoint', 'checkpoint.safetensors').equals(file('whole', 'checkpoint', 'checkpoint.safetensors'))).toBe(true);
    const state = JSON.parse(file('rest', 'checkpoint', 'checkpoint.json').toString('utf8')) as { step: number; position: unknown; metrics: unknown[] };
    expect(state).toMatchObject({ step: 6, position: { epoch: 2, batch: 0 } });
    expect(state.metrics).toHaveLength(6);
  }, 180_000);

  it('refuses other data or settings, and a folder without a checkpoint', async () => {
    const checkpoint = join(dir, 'first', 'checkpoint');
    const other = join(dir, 'other.jsonl');
    await writeFile(other, readFileSync(data, 'utf8').replace('docker prune', 'docker rmi'));
    const out = join(dir, 'refused');
    await expect(trainMain(['--model', model, '--data', other, '--config', config, '--out', out, '--resume', checkpoint])).rejects.toThrow(
      new RegExp(`^${other}: cannot resume: the training rows differ from the checkpoint's: it trained on 5 examples`),
    );
    const seeded = join(dir, 'seeded.yaml');
    await writeFile(seeded, readFileSync(config, 'utf8').replace('seed: 42 }', 'seed: 43 }'));
    await expect(trainMain(['--model', model, '--data', data, '--config', seeded, '--out', out, '--resume', checkpoint])).rejects.toThrow(
      "cannot resume: the settings differ from the checkpoint's (training.seed: the checkpoint's is 42, this run's 43)",
    );
    await expect(trainMain(['--model', model, '--data', data, '--config', config, '--out', out, '--resume', dir])).rejects.toThrow(`${dir}: no checkpoint.json`);
  }, 120_000);
});
