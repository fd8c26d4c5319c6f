// `qmd logits` never prints non-finite logits: a NaN weight is refused at load naming the tensor,
// and finite weights that overflow float32 are refused before anything is printed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { qwen3ConfigJson } from '../model/config.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { qwen3TensorShapes } from '../model/tensors.ts';
import { main as logitsMain } from './logits.ts';

const root = await mkdtemp(join(tmpdir(), 'qmd-logits-abuse-'));
afterAll(() => rm(root, { recursive: true, force: true }));

// "a" is token 64: a 512-token vocabulary keeps the folder small. No tokenizer files: the bundled one is used.
const config = { ...tinyModelConfig({ hidden: 16, headDim: 8, heads: 2, kvHeads: 1, intermediate: 32, untied: true }), vocabSize: 512 };

async function modelWith(name: string, change: (weights: Map<string, Float32Array>) => void): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  const weights = tinyModelWeights(config, 2);
  change(weights);
  await writeFile(join(dir, 'config.json'), JSON.stringify(qwen3ConfigJson(config, 'float32')));
  await writeFile(join(dir, 'model.safetensors'), writeSafetensors([...qwen3TensorShapes(config)].map(([n, shape]) => ({ name: n, dtype: 'F32' as const, shape, data: weights.get(n)! }))));
  return dir;
}

async function logits(dir: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    return { code: await logitsMain(['--model', dir, '--prompt', 'a', '--top', '3']), out, err };
  } catch (error) {
    return { code: 1, out, err: err + (error as Error).message };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('qmd logits on hostile weights', () => {
  it('prints finite logits for a sound model, saying that it used the bundled tokenizer', async () => {
    const { code, out, err } = await logits(await modelWith('sound', () => {}));
    expect(code).toBe(0);
    expect((JSON.parse(out) as { top: [number, number][] }).top.every(([, v]) => Number.isFinite(v))).toBe(true);
    expect(err).toContain('has no tokenizer.json and no tokenizer_config.json: using the bundled Qwen3 tokenizer instead');
  });

  it('refuses a NaN weight at load, naming the tensor', async () => {
    const dir = await modelWith('nan', (w) => void (w.get('model.norm.weight')![5] = Number.NaN));
    const { code, out, err } = await logits(dir);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toContain(`${join(dir, 'model.safetensors')}: tensor model.norm.weight holds a non-finite value (NaN) at element 5 of 16`);
  });

  it('refuses logits that overflow float32 from finite weights, printing nothing', async () => {
    const { code, out, err } = await logits(await modelWith('overflow', (w) => void w.get('lm_head.weight')!.fill(3e38)));
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/the logits are not finite \(\d+ of 512; token \d+ is (-?Infinity|NaN)\): the weights overflow float32/);
  });
});
