// `qmd logits`, `qmd expand` and `qmd train` on a tiny model written to a temp folder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { referenceLogits } from '../testing/qwen3-reference.ts';
import { loadBundledTokenizer } from '../engine/tokenizer-node.ts';
import { main as expandMain } from './expand.ts';
import { main as logitsMain } from './logits.ts';
import { main as trainMain } from './train.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-cli-'));
let made: Awaited<ReturnType<typeof makeTinyModel>>;
beforeAll(async () => {
  made = await makeTinyModel(join(dir, 'model'), { seed: 8, adapter: { dir: join(dir, 'lora'), rank: 4, alpha: 8 } });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function capture(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(), out };
  } finally {
    spy.mockRestore();
    quiet.mockRestore();
  }
}

describe('qmd logits / expand / train', () => {
  it('logits: tokenizes the prompt as written and prints the reference top-k', async () => {
    const { code, out } = await capture(() => logitsMain(['--model', join(dir, 'model'), '--adapter', join(dir, 'lora'), '--prompt', 'auth config', '--top', '5']));
    expect(code).toBe(0);
    const result = JSON.parse(out) as { input_ids: number[]; top: [number, number][] };
    expect(result.input_ids).toEqual((await loadBundledTokenizer()).encode('auth config'));
    const reference = referenceLogits(made.config, made.weights, result.input_ids, made.adapter);
    const order = Array.from(reference.keys()).sort((a, b) => reference[b]! - reference[a]!);
    expect(result.top.map(([id]) => id)).toEqual(order.slice(0, 5));
    for (const [id, logit] of result.top) expect(logit).toBeCloseTo(reference[id]!, 4);
  });

  it('expand: greedy output is deterministic; a missing QUERY is a usage error', async () => {
    const args = ['--model', join(dir, 'model'), '--greedy', '--max-new-tokens', '6', 'vote online'];
    const first = await capture(() => expandMain(args));
    expect(first.code).toBe(0);
    expect((await capture(() => expandMain(args))).out).toBe(first.out);
    expect(first.out.trim().length).toBeGreaterThan(0);
    expect((await capture(() => expandMain(['--model', join(dir, 'model')]))).code).toBe(2);
    await expect(expandMain(['--model', join(dir, 'model'), '--format', 'qmd-v9', 'q'])).rejects.toThrow('--format: unknown prompt format "qmd-v9"; known: qmd-v4, qmd-1.7b');
  });

  it('train: a few steps write a PEFT adapter that logits can load', async () => {
    const data = join(dir, 'data.jsonl');
    const rows = ['vote online', 'rust traits', 'sourdough starter', 'tax deadline', 'git rebase'].map((q) =>
      JSON.stringify({ input: q, output: `lex: ${q}\nvec: how to ${q}` }),
    );
    await writeFile(data, rows.join('\n') + '\n{"bad": 1}\n');
    const { code, out } = await capture(() =>
      trainMain(['--model', join(dir, 'model'), '--data', data, '--config', 'configs/sft.yaml', '--out', join(dir, 'trained'), '--max-steps', '2']),
    );
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.filter((l) => 'step' in l).map((l) => l.step)).toEqual([1, 2]);
    expect(lines.at(-1)!.eval_rows).toBe(1);
    expect(existsSync(join(dir, 'trained', 'adapter_model.safetensors'))).toBe(true);
    const probe = await capture(() => logitsMain(['--model', join(dir, 'model'), '--adapter', join(dir, 'trained'), '--prompt', 'x']));
    expect(probe.code).toBe(0);
  });
});
