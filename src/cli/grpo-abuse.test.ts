// Bad and hostile input to `qmd grpo --dry-step`: each refused with the file, field and what was
// expected, before any model is read (the --model folder here does not exist, so reaching it would
// fail differently), and configs/grpo.yaml's own errors keep their line numbers.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGrpoConfig } from '../engine/grpo-config.ts';
import { runCli } from '../testing/cli.ts';
import { main, MAX_BATCH_BYTES, parseGrpoBatch } from './grpo.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-grpo-abuse-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const missingModel = join(dir, 'no-model');
const grpoYaml = readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8');

async function dryStep(name: string, content: string | Uint8Array, extra: string[] = []) {
  const path = join(dir, name);
  await writeFile(path, content);
  return runCli(main, ['--dry-step', path, '--model', missingModel, '--config', 'configs/grpo.yaml', ...extra]);
}

const good = { prompts: ['auth'], completions: [['a', 'b', 'c', 'd']], rewards: [[1, 0, 0, 1]] };

describe('qmd grpo --dry-step input', () => {
  it('without --dry-step, --data and --out, or without --model: usage of both forms, exit 2', async () => {
    for (const args of [['--model', missingModel], ['--dry-step', 'b.json']]) {
      const run = await runCli(main, args);
      expect(run.code).toBe(2);
      expect(run.err).toMatch(/^usage: qmd grpo --model DIR \[--sft-adapter DIR\] --data FILE .*\n   or: qmd grpo --dry-step BATCH.json --model DIR/);
    }
  });

  it('a batch file over the size limit is refused by its byte count, not parsed', async () => {
    await expect(dryStep('big.json', new Uint8Array(MAX_BATCH_BYTES + 1).fill(0x20))).rejects.toThrow(`big.json: ${MAX_BATCH_BYTES + 1} bytes is over the ${MAX_BATCH_BYTES}`);
  });

  it('not UTF-8 or not JSON: named', async () => {
    await expect(dryStep('latin1.json', Uint8Array.of(0x7b, 0xe9, 0x7d))).rejects.toThrow(/latin1\.json: not UTF-8 JSON/);
    await expect(dryStep('cut.json', '{"prompts": [')).rejects.toThrow(/cut\.json: not UTF-8 JSON/);
  });

  it('each wrong field is named with what was expected', () => {
    const cases: [unknown, RegExp][] = [
      [[], /expected an object \{"prompts", "completions", "rewards"\}, got \[\]/],
      [{ ...good, extra: 1 }, /unknown field "extra"/],
      [{ ...good, prompts: [] }, /prompts: expected a list of 1 to 256 queries/],
      [{ ...good, prompts: [''] }, /prompts\[0\]: expected a non-empty string, got ""/],
      [{ ...good, completions: [['a', 'b']] }, /completions\[0\]: expected 4 strings \(grpo\.num_generations\)/],
      [{ ...good, completions: [['a', 'b', 7, 'd']] }, /completions\[0\]\[2\]: expected string, got 7/],
      [{ ...good, rewards: [[1, 0, null, 1]] }, /rewards\[0\]\[2\]: expected finite number, got null/],
      [{ ...good, rewards: [7] }, /rewards\[0\]: expected 4 finite numbers \(grpo\.num_generations\), got 7/],
      [{ ...good, rewards: [[1, 0]], prompts: ['a', 'b'] }, /completions: expected 2 lists \(one per prompt\)/],
    ];
    for (const [json, message] of cases) expect(() => parseGrpoBatch(json, 'b.json', 4), JSON.stringify(json)).toThrow(message);
  });

  it('an infinite reward (1e999 in JSON) is refused before the model is read', async () => {
    await expect(dryStep('inf.json', '{"prompts": ["q"], "completions": [["a", "b", "c", "d"]], "rewards": [[1e999, 0, 0, 1]]}')).rejects.toThrow(/inf\.json: rewards\[0\]\[0\]: expected finite number, got Infinity/);
  });

  it('a well-formed batch reaches the model folder (and fails there, by name)', async () => {
    await expect(dryStep('good.json', JSON.stringify(good))).rejects.toThrow(/no-model/);
  });
});

describe('configs/grpo.yaml', () => {
  it("reads QMD's GRPO defaults", () => {
    const { train, grpo } = parseGrpoConfig(grpoYaml, 'configs/grpo.yaml');
    expect(train.lora).toMatchObject({ r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'v_proj'] });
    expect(train.optimizer).toMatchObject({ lr: 5e-7, maxGradNorm: 0.5 });
    expect(train.training).toMatchObject({ batchSize: 2, gradAccum: 8 });
    expect(grpo).toEqual({ numGenerations: 4, maxCompletionLength: 200, beta: 0.04, useBiasCorrectionKl: true, temperature: 0.7, topK: 0, topP: 1, lossType: 'dapo', scaleRewards: 'group', maskTruncatedCompletions: false, maxSteps: 200, rewardWeights: { reward: 1, eval: 0 } });
  });

  it('errors name the file, line and key, in the grpo section and after it', () => {
    expect(() => parseGrpoConfig(grpoYaml.replace('  beta: 0.04', '  betta: 0.04'), 'g.yaml')).toThrow(/g\.yaml:35: grpo\.betta: unknown key; the closest known one is beta/);
    expect(() => parseGrpoConfig(grpoYaml.replace('loss_type: dapo', 'loss_type: ppo'), 'g.yaml')).toThrow(/g\.yaml:40: grpo\.loss_type: expected one of grpo, bnpo, dr_grpo, dapo, got "ppo"/);
    expect(() => parseGrpoConfig(grpoYaml.replace('temperature: 0.7', 'temperature: 0'), 'g.yaml')).toThrow(/grpo\.temperature: expected a number in \(0, 100\], got 0/);
    // A key of the training sections after the blanked grpo section keeps its own line.
    expect(() => parseGrpoConfig(`${grpoYaml}extra: 1\n`, 'g.yaml')).toThrow(/g\.yaml:49: extra: unknown key/);
    expect(() => parseGrpoConfig(grpoYaml.replace(/^grpo:[\s\S]*$/m, ''), 'g.yaml')).toThrow(/g\.yaml: no grpo section/);
  });
});
