import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { bytesSource } from './byte-source.ts';
import { roundTo } from './dtype.ts';
import { adapterConfigJson, loraScale, newAdapter, parseAdapterConfig, peftTensorName, readPeftAdapter, writePeftAdapter } from './peft.ts';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from './safetensors.ts';

// heads·head_dim = 96 ≠ hidden 64, so q/o shapes differ from k/v and from square.
const model = tinyModelConfig({ hidden: 64, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96 });

async function open(tensors: TensorToWrite[]) {
  return SafetensorsFile.open(bytesSource(writeSafetensors(tensors), 'adapter_model.safetensors'));
}

describe('newAdapter', () => {
  it('initialises A ~ U(−1/√in, 1/√in) and B = 0, reproducibly per seed', () => {
    const options = { r: 8, alpha: 16, targets: ['q_proj', 'down_proj'] as const, seed: 7 };
    const adapter = newAdapter(model, { ...options, targets: [...options.targets] });
    const down = adapter.layers[1].down_proj!;
    expect(down.a.length).toBe(8 * 96);
    expect(Math.max(...down.a.map(Math.abs))).toBeLessThan(1 / Math.sqrt(96));
    // Uniform on (−b, b): variance b²/3.
    const variance = down.a.reduce((s, v) => s + v * v, 0) / down.a.length;
    expect(variance).toBeGreaterThan(0.8 / (3 * 96));
    expect(variance).toBeLessThan(1.2 / (3 * 96));
    expect(down.b.every((v) => v === 0)).toBe(true);
    expect(adapter.layers[0].k_proj).toBeUndefined();
    expect(newAdapter(model, { ...options, targets: [...options.targets] }).layers[1].down_proj!.a).toEqual(down.a);
    expect(newAdapter(model, { ...options, targets: [...options.targets], seed: 8 }).layers[1].down_proj!.a).not.toEqual(down.a);
  });

  it('scales by alpha/r, or alpha/√r with rsLoRA', () => {
    expect(loraScale({ r: 16, alpha: 32, targets: ['q_proj'], useRslora: false, dropout: 0, baseModel: null })).toBe(2);
    expect(loraScale({ r: 16, alpha: 32, targets: ['q_proj'], useRslora: true, dropout: 0, baseModel: null })).toBe(8);
  });
});

describe('PEFT files', () => {
  const adapter = newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1, bStd: 0.1, baseModel: 'Qwen/Qwen3-0.6B' });

  it('round-trips config and weights with PEFT key names and [r, in] / [out, r] shapes', async () => {
    const { configJson, safetensors } = writePeftAdapter(adapter, model);
    const config = JSON.parse(configJson);
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, bias: 'none', fan_in_fan_out: false, use_rslora: false, base_model_name_or_path: 'Qwen/Qwen3-0.6B' });
    const file = await SafetensorsFile.open(bytesSource(safetensors));
    expect(file.info('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight').shape).toEqual([4, 64]);
    expect(file.info('base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight').shape).toEqual([96, 4]);
    expect(file.info('base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight').shape).toEqual([4, 96]);
    expect(file.info('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight').shape).toEqual([64, 4]);
    expect(file.names()).toHaveLength(2 * 7 * 2);
    const back = await readPeftAdapter(config, file, model);
    expect(back).toEqual(adapter);
  });

  it.each(['F32', 'BF16', 'F16'] as const)('export → import → export in %s: the same bytes, values as stored', async (dtype) => {
    const first = writePeftAdapter(adapter, model, dtype);
    const back = await readPeftAdapter(JSON.parse(first.configJson), await SafetensorsFile.open(bytesSource(first.safetensors)), model);
    const again = writePeftAdapter(back, model, dtype);
    expect(again.configJson).toBe(first.configJson);
    expect(Buffer.from(again.safetensors).equals(Buffer.from(first.safetensors))).toBe(true);
    const q = back.layers[1]!.q_proj!;
    expect(q.a).toEqual(roundTo(dtype, adapter.layers[1]!.q_proj!.a));
    expect(q.b).toEqual(roundTo(dtype, adapter.layers[1]!.q_proj!.b));
  });

  it('accepts target_modules in any order, as PEFT writes a set', () => {
    const json = { ...adapterConfigJson(adapter.config), target_modules: ['v_proj', 'q_proj'] };
    expect(parseAdapterConfig(json).targets).toEqual(['q_proj', 'v_proj']);
  });

  const config = adapterConfigJson({ ...adapter.config, targets: ['q_proj'] });
  const a = (layer: number, shape = [4, 64]) => ({ name: peftTensorName(layer, 'q_proj', 'A'), dtype: 'F32' as const, shape, data: new Float32Array(shape[0] * shape[1]) });
  const b = (layer: number, shape = [96, 4]) => ({ name: peftTensorName(layer, 'q_proj', 'B'), dtype: 'F32' as const, shape, data: new Float32Array(shape[0] * shape[1]) });

  it.each([
    ['a wrong rank', [a(0, [8, 64]), b(0), a(1), b(1)], 'tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight has shape [8, 64], expected [4, 64] (r = 4)'],
    ['a transposed B', [a(0), b(0, [4, 96]), a(1), b(1)], 'tensor base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight has shape [4, 96], expected [96, 4]'],
    ['a missing tensor', [a(0), b(0), a(1)], 'missing tensor base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'],
    ['a layer past the model', [a(0), b(0), a(1), b(1), a(2), b(2)], 'unexpected tensor base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight (the model has 2 layers)'],
    ['an untargeted module', [a(0), b(0), a(1), b(1), { ...a(0), name: peftTensorName(0, 'v_proj', 'A') }], 'unexpected tensor base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight (target_modules is [q_proj])'],
    ['an adapter-named key', [{ ...a(0), name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight' }], 'unexpected tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight'],
  ])('rejects %s', async (_, tensors, message) => {
    await expect(readPeftAdapter(config, await open(tensors), model)).rejects.toThrow(`adapter_model.safetensors: ${message}`);
  });

  it.each([
    [{ peft_type: 'IA3' }, 'peft_type is "IA3", expected "LORA"'],
    [{ r: 0 }, 'r is 0, expected a positive integer'],
    [{ target_modules: ['q_proj', 'lm_head'] }, 'target_modules is ["q_proj","lm_head"]'],
    [{ target_modules: 'all-linear' }, 'target_modules is "all-linear"'],
    [{ use_dora: true }, 'use_dora = true is not supported'],
    [{ rank_pattern: { q_proj: 8 } }, 'rank_pattern = {"q_proj":8} is not supported'],
    [{ lora_alpha: null }, 'lora_alpha is null, expected a number'],
  ])('rejects adapter_config.json with %j', (change, message) => {
    expect(() => parseAdapterConfig({ ...config, ...change })).toThrow(`adapter_config.json: ${message}`);
  });
});
