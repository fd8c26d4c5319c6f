// Broken and hostile model folders for the CLI's loader: every failure names the file (and the
// tensor or field), and comes before the weights are read where it can.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { qwen3TokenizerFiles, tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { qwen3ConfigJson } from '../model/config.ts';
import { adapterConfigJson, newAdapter, writePeftAdapter } from '../model/peft.ts';
import { SafetensorsFile, writeSafetensors } from '../model/safetensors.ts';
import { LM_HEAD, qwen3TensorShapes } from '../model/tensors.ts';
import { loadAdapter, loadCheckpoint, loadModelTokenizer } from './model-dir.ts';

const root = await mkdtemp(join(tmpdir(), 'qmd-model-dir-abuse-'));
afterAll(() => rm(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

// A small vocabulary keeps each folder a few hundred KB; nothing here tokenizes.
const config = { ...tinyModelConfig({ hidden: 16, headDim: 8, heads: 2, kvHeads: 1, intermediate: 32 }), vocabSize: 512 };
const weights = tinyModelWeights(config, 1);
const shapeOf = (name: string, data: Float32Array) => qwen3TensorShapes(config).get(name) ?? (name === LM_HEAD ? [config.vocabSize, config.hiddenSize] : [data.length]);
const tensorsOf = (w: Map<string, Float32Array>) => [...w].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: shapeOf(name, data), data }));

let folders = 0;
/** A model folder: config.json (with `change` applied), model.safetensors of `tensors`, and `extra` files. */
async function folder(options: { change?: Record<string, unknown>; tensors?: Map<string, Float32Array>; extra?: Record<string, string> } = {}): Promise<string> {
  const dir = join(root, `m${folders++}`);
  await mkdir(dir);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...qwen3ConfigJson(config, 'float32'), ...options.change }));
  await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensorsOf(options.tensors ?? weights)));
  for (const [file, text] of Object.entries(options.extra ?? {})) await writeFile(join(dir, file), text);
  return dir;
}

/** Counts the tensors read from any safetensors file. */
const countReads = () => vi.spyOn(SafetensorsFile.prototype, 'read');

describe('loadCheckpoint', () => {
  it('loads a valid folder (the control case)', async () => {
    const loaded = await loadCheckpoint(await folder());
    expect(loaded.config).toEqual(config);
    expect(loaded.weights.get('model.norm.weight')).toEqual(weights.get('model.norm.weight'));
  });

  it('names config.json when it is not JSON, or is a directory', async () => {
    const dir = await folder();
    await writeFile(join(dir, 'config.json'), '{ hidden_size: 16 }');
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: not valid JSON (`);
    await rm(join(dir, 'config.json'));
    await mkdir(join(dir, 'config.json'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')} is a directory, expected a file`);
  });

  it('names model.safetensors when it is a directory, and a missing one', async () => {
    const dir = await folder();
    await rm(join(dir, 'model.safetensors'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: no such file`);
    await mkdir(join(dir, 'model.safetensors'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')} is a directory, expected a file`);
  });

  it('refuses num_hidden_layers 1e9 from config.json alone: the weights are never opened', async () => {
    const dir = await folder({ change: { num_hidden_layers: 1e9 } });
    await rm(join(dir, 'model.safetensors'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: field "num_hidden_layers" is 1000000000, expected an integer in [1, 1024]`);
  });

  it('refuses a layer count, width or tensor set the checkpoint does not hold, before reading any tensor', async () => {
    const reads = countReads();
    const file = (dir: string) => join(dir, 'model.safetensors');
    const three = await folder({ change: { num_hidden_layers: 3 } });
    await expect(loadCheckpoint(three)).rejects.toThrow(`${file(three)}: config.json has num_hidden_layers 3, but the checkpoint holds layers 0 to 1`);
    const wide = await folder({ change: { intermediate_size: 64 } });
    await expect(loadCheckpoint(wide)).rejects.toThrow(`${file(wide)}: tensor model.layers.0.mlp.gate_proj.weight has shape [32, 16], config.json implies [64, 16]`);
    const extra = await folder({ tensors: new Map([...weights, ['model.layers.0.mlp.extra.weight', new Float32Array(4)]]) });
    await expect(loadCheckpoint(extra)).rejects.toThrow(`${file(extra)}: unexpected tensor model.layers.0.mlp.extra.weight`);
    expect(reads).not.toHaveBeenCalled();
  });

  it('refuses a weight holding NaN or Infinity, naming the tensor and file', async () => {
    const bad = new Map(weights);
    bad.set('model.layers.1.self_attn.k_proj.weight', Float32Array.from(weights.get('model.layers.1.self_attn.k_proj.weight')!, (v, i) => (i === 3 ? -Infinity : v)));
    const dir = await folder({ tensors: bad });
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      `${join(dir, 'model.safetensors')}: tensor model.layers.1.self_attn.k_proj.weight holds a non-finite value (-Infinity) at element 3 of 128`,
    );
  });

  it('reads a tied config with a stored lm_head.weight as transformers 5 does: untied (with a warning) when it differs, tied when it is a copy', async () => {
    const head = Float32Array.from(weights.get('model.embed_tokens.weight')!, (v) => v * 2);
    const warnings: string[] = [];
    const differs = await loadCheckpoint(await folder({ tensors: new Map([...weights, [LM_HEAD, head]]) }), (m) => warnings.push(m));
    expect(differs.config.tieWordEmbeddings).toBe(false);
    expect(differs.weights.get(LM_HEAD)).toEqual(head);
    expect(warnings).toEqual([expect.stringContaining(`the stored ${LM_HEAD} differs from model.embed_tokens.weight: using the stored ${LM_HEAD} (untied), as transformers does`)]);
    const copy = await loadCheckpoint(await folder({ tensors: new Map([...weights, [LM_HEAD, weights.get('model.embed_tokens.weight')!]]) }), (m) => warnings.push(m));
    expect(copy.config.tieWordEmbeddings).toBe(true);
    expect(copy.weights.has(LM_HEAD)).toBe(false);
    expect(warnings).toHaveLength(1);
  });

  describe('sharded', () => {
    const shardOf = (names: string[]) => writeSafetensors(tensorsOf(new Map(names.map((n) => [n, weights.get(n)!]))));
    const names = [...weights.keys()];

    it('loads an index and its shards (the control case), and names an index that is not JSON', async () => {
      const dir = await folder();
      await rm(join(dir, 'model.safetensors'));
      await writeFile(join(dir, 'a.safetensors'), shardOf(names.slice(0, 5)));
      await writeFile(join(dir, 'b.safetensors'), shardOf(names.slice(5)));
      const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 5 ? 'a.safetensors' : 'b.safetensors']));
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
      expect((await loadCheckpoint(dir)).weights.size).toBe(weights.size);
      await writeFile(join(dir, 'model.safetensors.index.json'), '{"weight_map": {,}}');
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors.index.json')}: not valid JSON (`);
    });

    it('refuses an index that points outside the model folder, even at a valid shard there', async () => {
      const dir = await folder();
      await rm(join(dir, 'model.safetensors'));
      // Without the rule this folder would load: ../outside.safetensors holds every tensor.
      await writeFile(join(root, 'outside.safetensors'), shardOf(names));
      const index = join(dir, 'model.safetensors.index.json');
      for (const shard of ['../outside.safetensors', `${root}/outside.safetensors`, 'sub/../../outside.safetensors', '..\\outside.safetensors']) {
        await writeFile(index, JSON.stringify({ weight_map: Object.fromEntries(names.map((n) => [n, shard])) }));
        await expect(loadCheckpoint(dir)).rejects.toThrow(`${index}: weight_map["${names[0]}"] is ${JSON.stringify(shard)}, which leaves the model folder`);
      }
    });
  });
});

describe('loadAdapter', () => {
  const adapter = newAdapter(config, { r: 2, alpha: 4, targets: ['q_proj'], seed: 2, bStd: 0.1 });
  async function adapterFolder(configText: string): Promise<string> {
    const dir = join(root, `a${folders++}`);
    await mkdir(dir);
    await writeFile(join(dir, 'adapter_config.json'), configText);
    await writeFile(join(dir, 'adapter_model.safetensors'), writePeftAdapter(adapter, config).safetensors);
    return dir;
  }

  it('names adapter_config.json when it is not JSON or has a bad field', async () => {
    const broken = await adapterFolder('{"r": 2,}');
    await expect(loadAdapter(broken, config)).rejects.toThrow(`${join(broken, 'adapter_config.json')}: not valid JSON (`);
    const alpha = await adapterFolder(JSON.stringify({ ...adapterConfigJson(adapter.config), lora_alpha: 1e38 }));
    await expect(loadAdapter(alpha, config)).rejects.toThrow(`${join(alpha, 'adapter_config.json')}: lora_alpha is 1e+38, expected a number in (0, 10000]`);
    const good = await adapterFolder(JSON.stringify(adapterConfigJson(adapter.config)));
    expect((await loadAdapter(good, config)).layers).toEqual(adapter.layers);
  });
});

describe('loadModelTokenizer', () => {
  it("warns, naming the missing file, when it falls back to the bundled tokenizer; names a tokenizer file that is not JSON", async () => {
    const dir = await folder();
    const warnings: string[] = [];
    await copyFile(qwen3TokenizerFiles.tokenizerConfig, join(dir, 'tokenizer_config.json'));
    const tokenizer = await loadModelTokenizer(dir, (m) => warnings.push(m));
    expect(tokenizer.encode('vote online').length).toBeGreaterThan(0);
    expect(warnings).toEqual([`${dir} has no tokenizer.json: using the bundled Qwen3 tokenizer instead`]);
    await writeFile(join(dir, 'tokenizer.json'), '{"model": {"vocab": {"a": 1,,}}}');
    await expect(loadModelTokenizer(dir, (m) => warnings.push(m))).rejects.toThrow(`${join(dir, 'tokenizer.json')}: not valid JSON (`);
    await rm(join(dir, 'tokenizer.json'));
    await mkdir(join(dir, 'tokenizer.json'));
    await expect(loadModelTokenizer(dir, (m) => warnings.push(m))).rejects.toThrow(`${join(dir, 'tokenizer.json')} is a directory, expected a file`);
    expect(warnings).toHaveLength(1);
  });
});
