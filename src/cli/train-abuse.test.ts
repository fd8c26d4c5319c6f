// `qmd train` on hostile input: a row whose prompt fills max_length is skipped with its line and
// the adapter is still written; a non-finite or misspelt setting is refused before the model loads.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../testing/cli.ts';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { main as trainMain } from './train.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-train-abuse-'));
beforeAll(() => makeTinyModel(join(dir, 'model'), { seed: 9 }));
afterAll(() => rm(dir, { recursive: true, force: true }));

const sft = readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8');
/** configs/sft.yaml with its tiny-run changes: r 2, batch 2 × 1, max length 48, no eval split, completion-only loss (a long prompt leaves nothing to score). */
async function configFile(name: string, ...changes: [string, string][]): Promise<string> {
  let text = sft;
  for (const [from, to] of [['r: 16', 'r: 2'], ['batch_size: 4', 'batch_size: 2'], ['grad_accum: 4', 'grad_accum: 1'], ['max_length: 512', 'max_length: 48'], ['split: 0.1', 'split: 0'], ['loss_on: all', 'loss_on: completion'], ...changes]) {
    expect(text).toContain(from);
    text = text.replace(from!, to!);
  }
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const run = (args: string[]): Promise<CliRun> => runCli(trainMain, args);

describe('qmd train on hostile input', () => {
  it('skips a row whose prompt fills max_length, naming its line, and still writes the adapter', async () => {
    const data = join(dir, 'data.jsonl');
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const rows = ['vote online', 'rust traits', long, 'git rebase'].map((q) => JSON.stringify({ input: q, output: `lex: ${q}\nvec: how to ${q}` }));
    await writeFile(data, rows.join('\n') + '\n');
    const out = join(dir, 'trained');
    const result = await run(['--model', join(dir, 'model'), '--data', data, '--config', await configFile('tiny.yaml'), '--out', out, '--max-steps', '1']);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(new RegExp(`${data}:3: skipped: the prompt is \\d+ tokens, so max_length 48 leaves no completion token to train on`));
    expect(result.err).toContain(`${data}: 1 row skipped: the prompt fills max_length 48`);
    expect(result.out.trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([1]);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
    // PEFT's field names the base it was trained on.
    expect(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')).base_model_name_or_path).toBe(join(dir, 'model'));
  }, 120_000);

  it('refuses lr .inf and a misspelt key before the model loads', async () => {
    // The model folder does not exist: reaching it would fail differently.
    const args = (config: string) => ['--model', join(dir, 'no-model'), '--data', join(dir, 'data.jsonl'), '--config', config, '--out', join(dir, 'x')];
    const inf = await configFile('inf.yaml', ['lr: 2.0e-4', 'lr: .inf']);
    await expect(run(args(inf))).rejects.toThrow(`${inf}:10: optimizer.lr: expected a number in (0, 1], got Infinity`);
    const typo = await configFile('typo.yaml', ['batch_size: 2', 'bacth_size: 2']);
    await expect(run(args(typo))).rejects.toThrow(`${typo}:19: training.bacth_size: unknown key; the closest known one is batch_size`);
    await expect(run(args(dir))).rejects.toThrow(`${dir} is a directory, expected a file`);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
