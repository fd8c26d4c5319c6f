// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, read and written as PEFT does.
// y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r], s = alpha/r (alpha/√r with rsLoRA).
import type { Qwen3Config } from './config.ts';
import { seededRandom } from './random.ts';
import { writeSafetensors, type TensorReader, type TensorToWrite } from './safetensors.ts';
import type { StoredDtype } from './dtype.ts';
import { loraTargets, projectionPath, projectionShape, type LoraTarget } from './tensors.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  targets: LoraTarget[];
  useRslora: boolean;
  dropout: number;
  baseModel: string | null;
}

export interface LoraPair {
  /** [r, in] */
  a: Float32Array;
  /** [out, r] */
  b: Float32Array;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** layers[N][target]: present for every layer and every target of config.targets. */
  layers: Array<Partial<Record<LoraTarget, LoraPair>>>;
}

export function loraScale(config: LoraConfig): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

/** The key PEFT saves for one LoRA matrix. */
export function peftTensorName(layer: number, target: LoraTarget, matrix: 'A' | 'B'): string {
  return `base_model.model.${projectionPath(layer, target)}.lora_${matrix}.weight`;
}

const isTarget = (v: unknown): v is LoraTarget => (loraTargets as readonly unknown[]).includes(v);

// Options that change which weights exist or how they combine; we support only their neutral value.
const neutral: Record<string, (v: unknown) => boolean> = {
  bias: (v) => v === undefined || v === 'none',
  fan_in_fan_out: (v) => !v,
  use_dora: (v) => !v,
  lora_bias: (v) => !v,
  modules_to_save: (v) => v == null || (Array.isArray(v) && v.length === 0),
  layers_to_transform: (v) => v == null,
  rank_pattern: (v) => v == null || Object.keys(v as object).length === 0,
  alpha_pattern: (v) => v == null || Object.keys(v as object).length === 0,
  layer_replication: (v) => v == null,
  trainable_token_indices: (v) => v == null,
};

/** Parses and validates adapter_config.json; errors name the field and what was expected. */
export function parseAdapterConfig(json: unknown, source = 'adapter_config.json'): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  if (c.peft_type !== 'LORA') throw new Error(`${source}: peft_type is ${JSON.stringify(c.peft_type)}, expected "LORA"`);
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') {
    throw new Error(`${source}: task_type is ${JSON.stringify(c.task_type)}, expected "CAUSAL_LM"`);
  }
  if (!Number.isInteger(c.r) || (c.r as number) <= 0) throw new Error(`${source}: r is ${JSON.stringify(c.r)}, expected a positive integer`);
  if (typeof c.lora_alpha !== 'number' || !Number.isFinite(c.lora_alpha)) {
    throw new Error(`${source}: lora_alpha is ${JSON.stringify(c.lora_alpha)}, expected a number`);
  }
  const targets = c.target_modules;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every(isTarget)) {
    throw new Error(`${source}: target_modules is ${JSON.stringify(targets)}, expected a list drawn from ${loraTargets.join(', ')}`);
  }
  for (const [key, ok] of Object.entries(neutral)) {
    if (!ok(c[key])) throw new Error(`${source}: ${key} = ${JSON.stringify(c[key])} is not supported`);
  }
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) {
    throw new Error(`${source}: lora_dropout is ${JSON.stringify(dropout)}, expected a number in [0, 1)`);
  }
  const baseModel = c.base_model_name_or_path;
  return {
    r: c.r as number,
    alpha: c.lora_alpha,
    // Keep the model's order, whatever order PEFT wrote (it serialises a set).
    targets: loraTargets.filter((t) => targets.includes(t)),
    useRslora: c.use_rslora === true,
    dropout,
    baseModel: typeof baseModel === 'string' ? baseModel : null,
  };
}

/** adapter_config.json as PEFT (0.15) writes it for a LoRA on a causal LM. */
export function adapterConfigJson(config: LoraConfig): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: config.baseModel,
    bias: 'none',
    corda_config: null,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.alpha,
    lora_bias: false,
    lora_dropout: config.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...config.targets],
    task_type: 'CAUSAL_LM',
    trainable_token_indices: null,
    use_dora: false,
    use_rslora: config.useRslora,
  };
}

const keyPattern = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])\.weight$/;

/** Reads an adapter and checks every tensor's name, rank and shape against the base model. */
export async function readPeftAdapter(
  configJson: unknown,
  weights: TensorReader,
  model: Qwen3Config,
  file = 'adapter_model.safetensors',
): Promise<LoraAdapter> {
  const config = parseAdapterConfig(configJson);
  const expected = new Map<string, number[]>();
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const target of config.targets) {
      const [out, inp] = projectionShape(model, target);
      expected.set(peftTensorName(layer, target, 'A'), [config.r, inp]);
      expected.set(peftTensorName(layer, target, 'B'), [out, config.r]);
    }
  }
  for (const name of weights.names()) {
    const shape = expected.get(name);
    if (!shape) {
      const match = keyPattern.exec(name);
      const why = !match
        ? `expected keys like ${peftTensorName(0, config.targets[0], 'A')}`
        : Number(match[1]) >= model.numLayers
          ? `the model has ${model.numLayers} layers`
          : `target_modules is [${config.targets.join(', ')}]`;
      throw new Error(`${file}: unexpected tensor ${name} (${why})`);
    }
    const actual = weights.info(name).shape;
    if (actual.join(',') !== shape.join(',')) {
      throw new Error(`${file}: tensor ${name} has shape [${actual.join(', ')}], expected [${shape.join(', ')}] (r = ${config.r})`);
    }
  }
  const present = new Set(weights.names());
  const layers: LoraAdapter['layers'] = [];
  for (let layer = 0; layer < model.numLayers; layer++) {
    const pairs: Partial<Record<LoraTarget, LoraPair>> = {};
    for (const target of config.targets) {
      for (const matrix of ['A', 'B'] as const) {
        const name = peftTensorName(layer, target, matrix);
        if (!present.has(name)) throw new Error(`${file}: missing tensor ${name} (target_modules includes ${target})`);
      }
      pairs[target] = {
        a: await weights.read(peftTensorName(layer, target, 'A')),
        b: await weights.read(peftTensorName(layer, target, 'B')),
      };
    }
    layers.push(pairs);
  }
  return { config, layers };
}

/** adapter_config.json text and adapter_model.safetensors bytes. */
export function writePeftAdapter(
  adapter: LoraAdapter,
  model: Qwen3Config,
  dtype: StoredDtype = 'F32',
): { configJson: string; safetensors: Uint8Array<ArrayBuffer> } {
  const { r, targets } = adapter.config;
  const tensors: TensorToWrite[] = [];
  adapter.layers.forEach((pairs, layer) => {
    for (const target of targets) {
      const pair = pairs[target];
      if (!pair) throw new Error(`adapter: layer ${layer} has no ${target} matrices`);
      const [out, inp] = projectionShape(model, target);
      tensors.push({ name: peftTensorName(layer, target, 'A'), dtype, shape: [r, inp], data: pair.a });
      tensors.push({ name: peftTensorName(layer, target, 'B'), dtype, shape: [out, r], data: pair.b });
    }
  });
  return {
    configJson: JSON.stringify(adapterConfigJson(adapter.config), null, 2) + '\n',
    safetensors: writeSafetensors(tensors, { format: 'pt' }),
  };
}

export interface NewAdapterOptions {
  r: number;
  alpha: number;
  targets: LoraTarget[];
  seed: number;
  useRslora?: boolean;
  dropout?: number;
  baseModel?: string | null;
  /** Standard deviation of a random normal B (tests); PEFT's default B = 0 when absent. */
  bStd?: number;
}

/** A fresh adapter initialised as PEFT does: A ~ U(−1/√in, 1/√in) (kaiming-uniform, a = √5), B = 0. */
export function newAdapter(model: Qwen3Config, options: NewAdapterOptions): LoraAdapter {
  const config = parseAdapterConfig(
    adapterConfigJson({
      r: options.r,
      alpha: options.alpha,
      targets: options.targets,
      useRslora: options.useRslora ?? false,
      dropout: options.dropout ?? 0,
      baseModel: options.baseModel ?? null,
    }),
    'newAdapter options',
  );
  const random = seededRandom(options.seed);
  const layers: LoraAdapter['layers'] = [];
  for (let layer = 0; layer < model.numLayers; layer++) {
    const pairs: Partial<Record<LoraTarget, LoraPair>> = {};
    for (const target of config.targets) {
      const [out, inp] = projectionShape(model, target);
      const bound = 1 / Math.sqrt(inp);
      const a = new Float32Array(config.r * inp);
      for (let i = 0; i < a.length; i++) a[i] = (2 * random.uniform() - 1) * bound;
      const b = new Float32Array(out * config.r);
      if (options.bStd) for (let i = 0; i < b.length; i++) b[i] = random.normal() * options.bStd;
      pairs[target] = { a, b };
    }
    layers.push(pairs);
  }
  return { config, layers };
}
