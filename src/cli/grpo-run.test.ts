// `qmd grpo --data … --out …` on a tiny model folder: bad --data refused or skipped by file and
// line before the model is read, a 2-step run that prints a JSON line a step and writes a PEFT
// adapter the PEFT reader loads and a checkpoint that --resume continues, there stopped by the drift guard.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel, tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { loadAdapter } from '../engine/model-dir.ts';
import { runCli } from '../testing/cli.ts';
import { main } from './grpo.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-grpo-run-'));
const model = join(dir, 'model');
const data = join(dir, 'data.jsonl');
const config = join(dir, 'grpo.yaml');
const GRPO = [
  'lora: { r: 2, alpha: 4, dropout: 0, rslora: false, targets: [q_proj, v_proj] }',
  'optimizer: { lr: 1.0e-2, schedule: constant, warmup_ratio: 0, betas: [0.9, 0.999], eps: 1.0e-8, weight_decay: 0.0, max_grad_norm: 1.0 }',
  'training: { epochs: 1, batch_size: 2, grad_accum: 1, max_length: 64, loss_on: completion, seed: 42 }',
  'eval: { split: 0, seed: 42 }',
  'prompt_format: qmd-v4',
  'grpo: { num_generations: 2, max_completion_length: 3, beta: 0.04, use_bias_correction_kl: true, temperature: 0.7, loss_type: dapo, scale_rewards: group, mask_truncated_completions: false, max_steps: 10 }',
].join('\n');
beforeAll(async () => {
  await makeTinyModel(model, { seed: 11 });
  // Line 2 is not JSON: skipped, named by file and line.
  await writeFile(data, [JSON.stringify({ input: 'vote online', output: 'lex: vote' }), '{"input": ', JSON.stringify({ query: 'git rebase', output: [['lex', 'git rebase']] })].join('\n') + '\n');
  // A random model never writes lex:/vec:/hyde: lines: every completion hard-fails, so this guard stays off.
  await writeFile(config, `${GRPO}\ndrift_guard: { max_hard_fail_rate: 1.0 }\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const grpo = (args: string[]) => runCli(main, ['--model', model, '--config', config, ...args]);
const lines = (out: string) => out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);

describe('qmd grpo --data', () => {
  it('refuses a --data file with no usable row or no query, by name, before the model is read', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"input": 1}\nnot json\n');
    const missing = ['--model', join(dir, 'no-model'), '--config', config, '--out', join(dir, 'never')];
    const run = runCli(main, ['--data', bad, ...missing]);
    await expect(run).rejects.toThrow(`${bad}: no usable rows (see the lines above); GRPO needs at least one query`);
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '\n  \n');
    await expect(runCli(main, ['--data', empty, ...missing])).rejects.toThrow(`${empty}: no queries found (expected one query per line)`);
    await expect(runCli(main, ['--data', join(dir, 'absent.txt'), ...missing])).rejects.toThrow(/absent\.txt: cannot read the query set/);
    const usage = await runCli(main, ['--model', model, '--data', data, '--out', join(dir, 'never'), '--max-steps', '0']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--max-steps and --checkpoint-every take an integer ≥ 1/);
  });

  it('runs 2 steps: a JSON line each, a PEFT adapter the reader loads, a checkpoint --resume continues', async () => {
    const out = join(dir, 'out');
    const run = await grpo(['--data', data, '--out', out, '--max-steps', '2']);
    expect(run.code).toBe(0);
    expect(run.err).toContain(`${data}:2: skipped:`);
    const steps = lines(run.out);
    expect(steps.map((s) => [s.step, s.of])).toEqual([[1, 2], [2, 2]]);
    for (const s of steps) {
      expect(Object.keys(s)).toEqual(['step', 'of', 'loss', 'lr', 'grad_norm', 'reward', 'reward_score', 'eval_score', 'hard_fail_rate', 'kl', 'completion_tokens', 'zero_spread', 'generation_seconds', 'update_seconds', 'seconds']);
      expect(s.hard_fail_rate).toBe(1);
    }
    const adapter = await loadAdapter(out, tinyModelConfig());
    expect(adapter.config).toMatchObject({ r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], baseModel: model });
    const checkpoint = JSON.parse(await readFile(join(out, 'checkpoint', 'checkpoint.json'), 'utf8')) as { kind: string; step: number; metrics: unknown[] };
    expect(checkpoint).toMatchObject({ kind: 'grpo', step: 2 });
    // Resumed with a stricter guard (the guard may differ, the settings not): the random model's
    // completions all hard-fail, so it fires at step 3; the run goes back to the earliest state it
    // holds, the checkpoint it resumed (step 1's is older than the run), and takes no checkpoint of step 3.
    const strict = join(dir, 'strict.yaml');
    await writeFile(strict, `${GRPO}\ndrift_guard: { max_hard_fail_rate: 0.25, window_groups: 1 }\n`);
    const more = join(dir, 'more');
    const halted = await runCli(main, ['--model', model, '--config', strict, '--data', data, '--out', more, '--max-steps', '4', '--resume', join(out, 'checkpoint')]);
    expect(halted.code).toBe(1);
    expect(halted.err).toContain("the checkpoint's run stopped at 2; this one at 4");
    expect(lines(halted.out).map((s) => s.step)).toEqual([3]);
    expect(halted.err).toContain(
      "qmd grpo: the drift guard stopped the run: step 3: 100.0 % of the completions of the last 1 groups hard-failed the format, above the drift guard's max_hard_fail_rate 25.0 %; rolled back to the adapter of step 2",
    );
    expect(existsSync(join(more, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(more, 'checkpoint'))).toBe(false);
    await expect(grpo(['--data', data, '--out', join(dir, 'x'), '--resume', dir])).rejects.toThrow(`${dir}: no checkpoint.json: expected a folder that qmd grpo --checkpoint-every wrote`);
  }, 120_000);
});
