// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, read and written as PEFT does.
// y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r], s = alpha/r (alpha/√r with rsLoRA).
import type { Qwen3Config } from './config.ts';
import { quote } from './quote.ts';
import { seededRandom } from './random.ts';
import { writeSafetensors, type TensorReader, type TensorToWrite } from './safetensors.ts';
import type { StoredDtype } from './dtype.ts';
import { loraSites, loraTargets, projectionPath, projectionShape, type LoraTarget } from './tensors.ts';

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

/**
 * The largest lora_alpha accepted: published adapters use 8 to 512, and a scale past this turns
 * logits into junk or, at alpha 1e38, into Infinity.
 */
export const MAX_LORA_ALPHA = 10_000;

export function loraScale(config: LoraConfig): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

/** The key PEFT saves for one LoRA matrix. */
export function peftTensorName(layer: number, target: LoraTarget, matrix: 'A' | 'B'): string {
  return `base_model.model.${projectionPath(layer, target)}.lora_${matrix}.weight`;
}

const isTarget = (v: unknown): v is LoraTarget => (loraTargets as readonly unknown[]).includes(v);

/** Python's `bool(v)` for a JSON value: PEFT tests its flags so (`use_rslora: "yes"` — or "false" — turns rsLoRA on). */
export function pythonTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return typeof v !== 'number' || !Number.isNaN(v);
}

// Options that change which weights exist or how they combine; we support only their neutral value.
const neutral: Record<string, (v: unknown) => boolean> = {
  bias: (v) => v === undefined || v === 'none',
  fan_in_fan_out: (v) => !pythonTruthy(v),
  use_dora: (v) => !pythonTruthy(v),
  lora_bias: (v) => !pythonTruthy(v),
  modules_to_save: (v) => !pythonTruthy(v),
  layers_to_transform: (v) => v == null,
  rank_pattern: (v) => !pythonTruthy(v),
  alpha_pattern: (v) => !pythonTruthy(v),
  layer_replication: (v) => v == null,
  trainable_token_indices: (v) => v == null,
  // PEFT 0.17+: quantization-aware LoRA, LoRA on parameters, activated LoRA, block-diagonal LoRA.
  use_qalora: (v) => !pythonTruthy(v),
  target_parameters: (v) => !pythonTruthy(v),
  alora_invocation_tokens: (v) => v == null,
  use_bdlora: (v) => !pythonTruthy(v),
};

/**
 * exclude_modules as PEFT reads it: a list of module names, each excluding the module of that
 * full name (`model.layers.0.self_attn.q_proj`) or any whose name ends in `.` + it (`q_proj`,
 * `layers.0.self_attn.q_proj`). PEFT's other form, one regular expression, is refused: its
 * syntax is Python's, and a hostile pattern could backtrack for minutes.
 */
export function excludeModules(c: Record<string, unknown>, source: string): string[] {
  const v = c.exclude_modules;
  if (!pythonTruthy(v)) return [];
  if (typeof v === 'string') {
    throw new Error(`${source}: exclude_modules is the regular expression ${quote(v)}: only a list of module names is supported (e.g. ["model.layers.0.self_attn.q_proj"])`);
  }
  if (!Array.isArray(v) || !v.every((name) => typeof name === 'string')) {
    throw new Error(`${source}: exclude_modules is ${quote(v)}, expected a list of module names`);
  }
  return v;
}

/** Whether PEFT leaves `module` (a full name, `model.layers.N.…`) out under `exclude`. */
export const isExcluded = (module: string, exclude: readonly string[]) => exclude.some((name) => module === name || module.endsWith(`.${name}`));

/** Parses and validates adapter_config.json; errors name the field and what was expected. */
export function parseAdapterConfig(json: unknown, source = 'adapter_config.json'): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  if (c.peft_type !== 'LORA') throw new Error(`${source}: peft_type is ${quote(c.peft_type)}, expected "LORA"`);
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') {
    throw new Error(`${source}: task_type is ${quote(c.task_type)}, expected "CAUSAL_LM"`);
  }
  if (!Number.isInteger(c.r) || (c.r as number) <= 0) throw new Error(`${source}: r is ${quote(c.r)}, expected a positive integer`);
  if (typeof c.lora_alpha !== 'number' || !(c.lora_alpha > 0 && c.lora_alpha <= MAX_LORA_ALPHA)) {
    throw new Error(`${source}: lora_alpha is ${quote(c.lora_alpha)}, expected a number in (0, ${MAX_LORA_ALPHA}]`);
  }
  const targets = c.target_modules;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every(isTarget)) {
    throw new Error(`${source}: target_modules is ${quote(targets)}, expected a list drawn from ${loraTargets.join(', ')}`);
  }
  for (const [key, ok] of Object.entries(neutral)) {
    if (!ok(c[key])) throw new Error(`${source}: ${key} = ${quote(c[key])} is not supported`);
  }
  excludeModules(c, source);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new Error(`${source}: lora_dropout is ${quote(dropout)}, expected a number in [0, 1)`);
  }
  const baseModel = c.base_model_name_or_path;
  return {
    r: c.r as number,
    alpha: c.lora_alpha,
    // Keep the model's order, whatever order PEFT wrote (it serialises a set).
    targets: loraTargets.filter((t) => targets.includes(t)),
    useRslora: pythonTruthy(c.use_rslora),
    dropout,
    baseModel: typeof baseModel === 'string' ? baseModel : null,
  };
}

/** The PEFT release whose adapter_config.json fields adapterConfigJson writes (peft-adapter-config.fixture.json). */
export const PEFT_FORMAT_VERSION = '0.21.0';

/**
 * adapter_config.json as PEFT's save_pretrained writes it for a LoRA on a causal LM: every field,
 * sorted, at its default unless `config` sets it (checked against PEFT by peft-adapter-config.test.ts).
 */
export function adapterConfigJson(config: LoraConfig): Record<string, unknown> {
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: config.baseModel,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.alpha,
    lora_bias: false,
    lora_dropout: config.dropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    monteclora_config: null,
    peft_type: 'LORA',
    peft_version: PEFT_FORMAT_VERSION,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...config.targets],
    target_parameters: null,
    task_type: 'CAUSAL_LM',
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: config.useRslora,
    velora_config: null,
  };
}

const keyPattern = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])\.weight$/;

/**
 * Refuses a rank above min(in, out) of a target's projection (the product A·B cannot use more;
 * r 100,000 on hidden 64 would allocate gigabytes) before any matrix is read or allocated.
 */
export function checkLoraRank(config: Pick<LoraConfig, 'r' | 'targets'>, model: Qwen3Config, source: string): void {
  for (const target of config.targets) {
    const [out, inp] = projectionShape(model, target);
    if (config.r > Math.min(out, inp)) {
      throw new Error(`${source}: r ${config.r} is above ${target}'s min(out ${out}, in ${inp}) = ${Math.min(out, inp)}: expected r in [1, ${Math.min(out, inp)}]`);
    }
  }
}

/**
 * Reads an adapter and checks every tensor's name, rank and shape against the base model before
 * reading any. A module that exclude_modules leaves out has no tensors in the file (PEFT does not
 * wrap it) and gets zero matrices here, which add nothing, as in PEFT.
 */
export async function readPeftAdapter(
  configJson: unknown,
  weights: TensorReader,
  model: Qwen3Config,
  file = 'adapter_model.safetensors',
  configFile = 'adapter_config.json',
): Promise<LoraAdapter> {
  const config = parseAdapterConfig(configJson, configFile);
  checkLoraRank(config, model, configFile);
  const exclude = excludeModules(configJson as Record<string, unknown>, configFile);
  const expected = new Map<string, number[]>();
  const excluded = new Set<string>();
  for (const { layer, target, outFeatures, inFeatures } of loraSites(model, config.targets)) {
    if (isExcluded(projectionPath(layer, target), exclude)) {
      for (const matrix of ['A', 'B'] as const) excluded.add(peftTensorName(layer, target, matrix));
      continue;
    }
    expected.set(peftTensorName(layer, target, 'A'), [config.r, inFeatures]);
    expected.set(peftTensorName(layer, target, 'B'), [outFeatures, config.r]);
  }
  if (expected.size === 0) throw new Error(`${configFile}: exclude_modules ${quote(exclude)} leaves none of target_modules in any layer`);
  for (const name of weights.names()) {
    const shape = expected.get(name);
    if (!shape) {
      const match = keyPattern.exec(name);
      const why = !match
        ? `expected keys like ${peftTensorName(0, config.targets[0], 'A')}`
        : Number(match[1]) >= model.numLayers
          ? `the model has ${model.numLayers} layers`
          : excluded.has(name)
            ? `exclude_modules leaves model.layers.${match[1]}.${match[2]}.${match[3]} out`
            : `target_modules is [${config.targets.join(', ')}]`;
      throw new Error(`${file}: unexpected tensor ${name} (${why})`);
    }
    const actual = weights.info(name).shape;
    if (actual.join(',') !== shape.join(',')) {
      throw new Error(`${file}: tensor ${name} has shape [${actual.join(', ')}], expected [${shape.join(', ')}] (r = ${config.r})`);
    }
  }
  const present = new Set(weights.names());
  const missing = [...expected.keys()].find((name) => !present.has(name));
  if (missing) throw new Error(`${file}: missing tensor ${missing} (target_modules includes ${keyPattern.exec(missing)![3]})`);
  const layers: LoraAdapter['layers'] = Array.from({ length: model.numLayers }, () => ({}));
  for (const { layer, target, outFeatures, inFeatures } of loraSites(model, config.targets)) {
    const read = (matrix: 'A' | 'B', size: number) => {
      const name = peftTensorName(layer, target, matrix);
      return excluded.has(name) ? Promise.resolve(new Float32Array(size)) : weights.read(name);
    };
    layers[layer]![target] = { a: await read('A', config.r * inFeatures), b: await read('B', outFeatures * config.r) };
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
  checkLoraRank(config, model, 'newAdapter options');
  const random = seededRandom(options.seed);
  const layers: LoraAdapter['layers'] = Array.from({ length: model.numLayers }, () => ({}));
  for (const { layer, target, outFeatures, inFeatures } of loraSites(model, config.targets)) {
    const bound = 1 / Math.sqrt(inFeatures);
    const a = new Float32Array(config.r * inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = (2 * random.uniform() - 1) * bound;
    const b = new Float32Array(outFeatures * config.r);
    if (options.bStd) for (let i = 0; i < b.length; i++) b[i] = random.normal() * options.bStd;
    layers[layer]![target] = { a, b };
  }
  return { config, layers };
}
