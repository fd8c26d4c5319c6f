// `qmd grpo --dry-step` against TRL 1.13's GRPOTrainer itself: the fixture (scripts/reference/grpo_step.py,
// regenerating command in its header and in the fixture) holds TRL's loss, advantages, per-sequence KL,
// tokens and LoRA grad norm for one batch on a seeded tiny Qwen3 with an SFT adapter merged and a policy
// adapter away from the reference, under four loss_type / scale_rewards / use_bias_correction_kl settings.
// The same files are rebuilt here from the same seeds and run through the CLI.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GRPO_REFERENCE, writeGrpoReference } from '../../scripts/make-grpo-reference.ts';
import { main } from '../cli/grpo.ts';
import { runCli } from '../testing/cli.ts';

interface TrlCase {
  loss_type: string;
  scale_rewards: string;
  use_bias_correction_kl: boolean;
  loss: number;
  grad_norm: number;
  advantages: number[][];
  kl: number[][];
  tokens: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('./grpo-trl.fixture.json', import.meta.url), 'utf8')) as { cases: TrlCase[] };

const dir = await mkdtemp(join(tmpdir(), 'qmd-grpo-trl-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
await writeGrpoReference(dir);
await writeFile(join(dir, 'batch.json'), JSON.stringify(GRPO_REFERENCE.batch));

/** configs/grpo.yaml with the reference's grpo settings, the case's and its micro-batch size written in. */
function configFor(c: TrlCase): string {
  const settings: Record<string, unknown> = { ...GRPO_REFERENCE.grpo, loss_type: c.loss_type, scale_rewards: c.scale_rewards, use_bias_correction_kl: c.use_bias_correction_kl, batch_size: GRPO_REFERENCE.microBatch };
  let text = readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8');
  for (const [key, value] of Object.entries(settings)) {
    const line = new RegExp(`^(  ${key}:) .*$`, 'm');
    expect(text, key).toMatch(line);
    text = text.replace(line, `$1 ${String(value)}`);
  }
  return text;
}

const close = (ours: number, theirs: number, rel: number, abs: number) => Math.abs(ours - theirs) <= abs + rel * Math.abs(theirs);

describe('qmd grpo --dry-step against TRL', () => {
  expect(fixture.cases.map((c) => c.loss_type)).toEqual(GRPO_REFERENCE.cases.map((c) => c.loss_type));
  for (const trl of fixture.cases) {
    it(`${trl.loss_type}, scale_rewards ${trl.scale_rewards}, use_bias_correction_kl ${trl.use_bias_correction_kl}: TRL's loss, advantages, KL, tokens and grad norm`, async () => {
      const config = join(dir, `${trl.loss_type}.yaml`);
      await writeFile(config, configFor(trl));
      const run = await runCli(main, ['--dry-step', join(dir, 'batch.json'), '--model', join(dir, 'model'), '--sft-adapter', join(dir, 'sft'), '--adapter', join(dir, 'policy'), '--config', config]);
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      const ours = JSON.parse(run.out) as { loss: number; grad_norm: number; advantages: number[][]; kl: number[][]; tokens: number[][] };
      expect(ours.tokens).toEqual(trl.tokens);
      // TRL's advantages are float32.
      ours.advantages.flat().forEach((a, k) => expect(close(a, trl.advantages.flat()[k]!, 1e-6, 1e-7), `advantage ${k}: ${a} vs ${trl.advantages.flat()[k]}`).toBe(true));
      ours.kl.flat().forEach((kl, k) => expect(close(kl, trl.kl.flat()[k]!, 1e-4, 1e-7), `KL ${k}: ${kl} vs ${trl.kl.flat()[k]}`).toBe(true));
      expect(close(ours.loss, trl.loss, 1e-5, 1e-7), `loss ${ours.loss} vs ${trl.loss}`).toBe(true);
      expect(close(ours.grad_norm, trl.grad_norm, 1e-5, 0), `grad norm ${ours.grad_norm} vs ${trl.grad_norm}`).toBe(true);
    });
  }
});
