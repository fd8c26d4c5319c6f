// The tensors of a Qwen3 checkpoint: Hugging Face names, shapes ([out, in] for projections) and GGUF names.
import type { Qwen3Config } from './config.ts';

export const loraTargets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof loraTargets)[number];

/** HF module path of a projection, e.g. `model.layers.3.self_attn.q_proj`. */
export function projectionPath(layer: number, target: LoraTarget): string {
  const block = target === 'gate_proj' || target === 'up_proj' || target === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${target}`;
}

/** [out, in] of a projection's weight. */
export function projectionShape(config: Qwen3Config, target: LoraTarget): [number, number] {
  const { hiddenSize: d, headDim, numHeads, numKvHeads, intermediateSize: ff } = config;
  switch (target) {
    case 'q_proj':
      return [numHeads * headDim, d];
    case 'k_proj':
    case 'v_proj':
      return [numKvHeads * headDim, d];
    case 'o_proj':
      return [d, numHeads * headDim];
    case 'gate_proj':
    case 'up_proj':
      return [ff, d];
    case 'down_proj':
      return [d, ff];
  }
}

/** A projection that carries a LoRA branch: A is [r, inFeatures], B [outFeatures, r]. */
export interface LoraSite {
  layer: number;
  target: LoraTarget;
  outFeatures: number;
  inFeatures: number;
}

/** Every (layer, target) of `targets`, layer by layer in `targets`' order: the one walk over an adapter's matrices. */
export function* loraSites(config: Qwen3Config, targets: readonly LoraTarget[]): Generator<LoraSite> {
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of targets) {
      const [outFeatures, inFeatures] = projectionShape(config, target);
      yield { layer, target, outFeatures, inFeatures };
    }
  }
}

/** Every tensor of the checkpoint in file order, with its shape. */
export function qwen3TensorShapes(config: Qwen3Config): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocabSize, config.hiddenSize]);
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    shapes.set(`${prefix}.input_layernorm.weight`, [config.hiddenSize]);
    for (const target of loraTargets) shapes.set(`${projectionPath(layer, target)}.weight`, projectionShape(config, target));
    shapes.set(`${prefix}.self_attn.q_norm.weight`, [config.headDim]);
    shapes.set(`${prefix}.self_attn.k_norm.weight`, [config.headDim]);
    shapes.set(`${prefix}.post_attention_layernorm.weight`, [config.hiddenSize]);
  }
  shapes.set('model.norm.weight', [config.hiddenSize]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [config.vocabSize, config.hiddenSize]);
  return shapes;
}

const ggufLayerNames: Record<string, string> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

/** llama.cpp's name for an HF tensor (`model.layers.0.self_attn.q_proj.weight` → `blk.0.attn_q.weight`). */
export function ggufTensorName(hfName: string): string {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return 'output.weight';
  const match = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hfName);
  const name = match && ggufLayerNames[match[2]];
  if (!match || !name) throw new Error(`no GGUF name for tensor ${hfName}`);
  return `blk.${match[1]}.${name}.weight`;
}

/** The stored LM head that a tied config may still carry (see checkCheckpointTensors). */
export const LM_HEAD = 'lm_head.weight';

const listed = (names: readonly string[], max = 3) =>
  names.slice(0, max).join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');

/**
 * Checks a checkpoint's tensor list against `config` before any tensor is read, so a config
 * that disagrees with its weights (a layer count of 1e9, a wrong width) fails at once, naming
 * `source`: the layer count the tensors imply, every tensor qwen3TensorShapes expects with its
 * shape, and nothing else. The one extra allowed is `lm_head.weight` in a tied config
 * ([vocab, hidden]): see resolveTiedHead.
 */
export function checkCheckpointTensors(config: Qwen3Config, stored: { names(): string[]; info(name: string): { shape: number[] } }, source: string): void {
  const names = stored.names();
  let layers = 0;
  for (const name of names) {
    const match = /^model\.layers\.(\d+)\./.exec(name);
    if (match) layers = Math.max(layers, Number(match[1]) + 1);
  }
  if (layers !== config.numLayers) {
    const held = layers === 0 ? 'no layer tensors' : `layers 0 to ${layers - 1}`;
    throw new Error(`${source}: config.json has num_hidden_layers ${config.numLayers}, but the checkpoint holds ${held}`);
  }
  const expected = qwen3TensorShapes(config);
  const present = new Set(names);
  const missing = [...expected.keys()].filter((name) => !present.has(name));
  if (missing.length > 0) throw new Error(`${source}: missing tensor${missing.length > 1 ? 's' : ''} ${listed(missing)} (expected by config.json)`);
  if (config.tieWordEmbeddings) expected.set(LM_HEAD, [config.vocabSize, config.hiddenSize]);
  const extra = names.filter((name) => !expected.has(name));
  if (extra.length > 0) throw new Error(`${source}: unexpected tensor${extra.length > 1 ? 's' : ''} ${listed(extra)} (not part of a Qwen3 with this config.json)`);
  for (const [name, shape] of expected) {
    if (!present.has(name)) continue;
    const actual = stored.info(name).shape;
    if (actual.join(',') !== shape.join(',')) {
      throw new Error(`${source}: tensor ${name} has shape [${actual.join(', ')}], config.json implies [${shape.join(', ')}]`);
    }
  }
}

/**
 * A tied config.json whose checkpoint still stores an `lm_head.weight` loads as transformers
 * (5.x) loads it: tied when the stored head equals the embedding (Qwen/Qwen3-0.6B stores such a
 * copy), untied with the stored head when it differs — then the returned warning says so.
 */
export async function resolveTiedHead(
  config: Qwen3Config,
  stored: { names(): string[]; read(name: string): Promise<Float32Array> },
  source: string,
): Promise<{ config: Qwen3Config; warning?: string }> {
  if (!config.tieWordEmbeddings || !stored.names().includes(LM_HEAD)) return { config };
  const head = await stored.read(LM_HEAD);
  const embedding = await stored.read('model.embed_tokens.weight');
  if (head.length === embedding.length && head.every((v, i) => v === embedding[i])) return { config };
  return {
    config: { ...config, tieWordEmbeddings: false },
    warning: `${source}: config.json ties the LM head to the embedding, but the stored ${LM_HEAD} differs from model.embed_tokens.weight: using the stored ${LM_HEAD} (untied), as transformers does`,
  };
}
