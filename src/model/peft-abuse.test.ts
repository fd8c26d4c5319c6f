// Hostile or unusual adapter_config.json values, read as PEFT 0.21 reads them (each case below was
// checked with PeftModel.from_pretrained on a tiny Qwen3) or refused naming the field and range.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { bytesSource } from './byte-source.ts';
import { adapterConfigJson, checkLoraRank, loraScale, MAX_LORA_ALPHA, newAdapter, parseAdapterConfig, peftTensorName, pythonTruthy, readPeftAdapter, writePeftAdapter } from './peft.ts';
import { SafetensorsFile, writeSafetensors, type TensorReader } from './safetensors.ts';
import { loraTargets } from './tensors.ts';

const model = tinyModelConfig({ hidden: 64, intermediate: 96 });
const adapter = newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed: 3, bStd: 0.1 });
const base = adapterConfigJson(adapter.config);

/** A TensorReader over `tensors` that counts the bytes it hands out. */
async function counted(tensors: Parameters<typeof writeSafetensors>[0]) {
  const file = await SafetensorsFile.open(bytesSource(writeSafetensors(tensors), 'adapter_model.safetensors'));
  const read = { values: 0 };
  const reader: TensorReader = {
    names: () => file.names(),
    info: (name) => file.info(name),
    read: async (name) => {
      const data = await file.read(name);
      read.values += data.length;
      return data;
    },
    readStored: (name) => file.readStored(name),
  };
  return { reader, read };
}

const stored = () =>
  adapter.layers.flatMap((pairs, layer) =>
    (['q_proj', 'v_proj'] as const).flatMap((target) => [
      { name: peftTensorName(layer, target, 'A'), dtype: 'F32' as const, shape: [4, 64], data: pairs[target]!.a },
      { name: peftTensorName(layer, target, 'B'), dtype: 'F32' as const, shape: [target === 'q_proj' ? 64 : 32, 4], data: pairs[target]!.b },
    ]),
  );

describe('use_rslora: Python truthiness, as PEFT tests it', () => {
  // PEFT 0.21: q_proj.scaling for r 4, alpha 8 was 4.0 (alpha/√r) for "yes", "false" and 1, and 2.0 (alpha/r) for 0, [] and "".
  it.each([
    ['yes', true],
    ['false', true],
    [1, true],
    [0, false],
    [[], false],
    ['', false],
    [null, false],
    [true, true],
  ])('%j → rsLoRA %s', (value, rslora) => {
    const config = parseAdapterConfig({ ...base, use_rslora: value });
    expect(config.useRslora).toBe(rslora);
    expect(loraScale(config)).toBe(rslora ? 4 : 2);
  });

  it('reads other flags the same way: a truthy use_dora is refused, a falsy one is not', () => {
    expect(() => parseAdapterConfig({ ...base, use_dora: 'no' })).toThrow('use_dora = "no" is not supported');
    expect(parseAdapterConfig({ ...base, use_dora: 0, modules_to_save: [], rank_pattern: {} }).r).toBe(4);
  });

  it("refuses PEFT 0.17+'s variants that change what the adapter computes, and accepts their defaults", () => {
    expect(() => parseAdapterConfig({ ...base, use_qalora: true })).toThrow('use_qalora = true is not supported');
    expect(() => parseAdapterConfig({ ...base, target_parameters: ['mlp.experts.down_proj'] })).toThrow(/target_parameters = .* is not supported/);
    expect(() => parseAdapterConfig({ ...base, alora_invocation_tokens: [1, 2] })).toThrow(/alora_invocation_tokens = .* is not supported/);
    expect(() => parseAdapterConfig({ ...base, use_bdlora: true })).toThrow('use_bdlora = true is not supported');
    expect(parseAdapterConfig({ ...base, use_qalora: false, target_parameters: null, alora_invocation_tokens: null, use_bdlora: false }).r).toBe(4);
    expect([{}, [], '', 0, null, false].map(pythonTruthy)).toEqual([false, false, false, false, false, false]);
  });
});

describe('exclude_modules', () => {
  it('leaves a listed module out as PEFT does: no tensors in the file, zero matrices here', async () => {
    // PEFT 0.21 saved no layer-0 q_proj tensors for exclude_modules ["model.layers.0.self_attn.q_proj"].
    const excluded = [peftTensorName(0, 'q_proj', 'A'), peftTensorName(0, 'q_proj', 'B')];
    const { reader } = await counted(stored().filter((t) => !excluded.includes(t.name)));
    for (const exclude of [['model.layers.0.self_attn.q_proj'], ['layers.0.self_attn.q_proj']]) {
      const read = await readPeftAdapter({ ...base, exclude_modules: exclude }, reader, model);
      expect(read.layers[0]!.q_proj!.a.every((v) => v === 0) && read.layers[0]!.q_proj!.b.every((v) => v === 0)).toBe(true);
      expect(read.layers[1]!.q_proj).toEqual(adapter.layers[1]!.q_proj);
      expect(read.layers[0]!.v_proj).toEqual(adapter.layers[0]!.v_proj);
    }
    // A name matches whole dotted parts only ("_proj" is not ".q_proj").
    await expect(readPeftAdapter({ ...base, exclude_modules: ['_proj'] }, reader, model)).rejects.toThrow(`missing tensor ${excluded[0]}`);
  });

  it('refuses tensors for an excluded module, a regular expression, and an exclusion of everything', async () => {
    const { reader } = await counted(stored());
    await expect(readPeftAdapter({ ...base, exclude_modules: ['model.layers.0.self_attn.q_proj'] }, reader, model)).rejects.toThrow(
      `unexpected tensor ${peftTensorName(0, 'q_proj', 'A')} (exclude_modules leaves model.layers.0.self_attn.q_proj out)`,
    );
    expect(() => parseAdapterConfig({ ...base, exclude_modules: '(.*)*x' }, 'a/adapter_config.json')).toThrow(
      'a/adapter_config.json: exclude_modules is the regular expression "(.*)*x": only a list of module names is supported',
    );
    expect(() => parseAdapterConfig({ ...base, exclude_modules: [1] })).toThrow('exclude_modules is [1], expected a list of module names');
    await expect(readPeftAdapter({ ...base, exclude_modules: ['q_proj', 'v_proj'] }, reader, model)).rejects.toThrow('leaves none of target_modules in any layer');
  });
});

describe('bounds before reading or allocating', () => {
  it.each([
    [{ lora_alpha: 1e38 }, `lora_alpha is 1e+38, expected a number in (0, ${MAX_LORA_ALPHA}]`],
    [{ lora_alpha: JSON.parse('1e999') }, 'lora_alpha is Infinity'],
    [{ lora_alpha: -8 }, 'lora_alpha is -8'],
    [{ lora_dropout: '0.1' }, 'lora_dropout is "0.1", expected a number in [0, 1)'],
    [{ r: 2.5 }, 'r is 2.5, expected a positive integer'],
  ])('refuses %j', (change, message) => {
    expect(() => parseAdapterConfig({ ...base, ...change })).toThrow(message);
  });

  it('refuses r above min(in, out) of a target before reading a tensor or allocating one', async () => {
    const { reader, read } = await counted(stored());
    await expect(readPeftAdapter({ ...base, r: 100_000 }, reader, model, 'x', 'lora/adapter_config.json')).rejects.toThrow(
      "lora/adapter_config.json: r 100000 is above q_proj's min(out 64, in 64) = 64: expected r in [1, 64]",
    );
    expect(read.values).toBe(0);
    // k_proj maps 64 → 32: its bound is lower than q_proj's.
    expect(() => checkLoraRank({ r: 33, targets: ['q_proj', 'k_proj'] }, model, 's')).toThrow("s: r 33 is above k_proj's min(out 32, in 64) = 32");
    // newAdapter would hold 100,000 × (in + out) floats per module: it refuses before allocating them.
    const before = process.memoryUsage().arrayBuffers;
    expect(() => newAdapter(model, { r: 100_000, alpha: 8, targets: [...loraTargets], seed: 1 })).toThrow('r 100000 is above');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1_000_000);
  });

  it('refuses an adapter tensor holding NaN or Infinity, naming it', async () => {
    const tensors = stored();
    tensors[5]!.data = Float32Array.from(tensors[5]!.data, (v, i) => (i === 7 ? Number.NaN : v));
    const { reader } = await counted(tensors);
    await expect(readPeftAdapter(base, reader, model)).rejects.toThrow(`adapter_model.safetensors: tensor ${tensors[5]!.name} holds a non-finite value (NaN) at element 7`);
    const { safetensors } = writePeftAdapter(adapter, model);
    expect((await readPeftAdapter(base, await SafetensorsFile.open(bytesSource(safetensors)), model)).layers).toEqual(adapter.layers);
  });
});
