// What loading a Qwen3 checkpoint costs on this GPU, and whether its tensors fit the device's
// buffer limits (checked before downloading a gigabyte that could not be bound).

/** The config.json fields that size the weights. */
export interface SizingConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  tie_word_embeddings: boolean;
}

/** The two GPUSupportedLimits that bound one weight buffer. */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface LoadEstimate {
  /** All weights at the load dtype. */
  totalBytes: number;
  tensorCount: number;
  largestTensor: { name: string; shape: number[]; bytes: number };
  /** K and V of every layer for 1,024 positions, at the load dtype. */
  kvCacheBytesPer1kTokens: number;
  /**
   * Vocabulary chunks the embedding / LM head must be split into so that each chunk fits one
   * binding (1 when it fits whole).
   */
  vocabChunks: number;
  /** Why the model cannot be loaded on this device, or null. */
  refusal: string | null;
}

const dtypeBytes = { f32: 4, f16: 2 } as const;

/** Every weight of the checkpoint with its shape; the vocabulary tensors are the ones split by rows. */
function weightShapes(c: SizingConfig): { name: string; shape: number[]; vocab: boolean }[] {
  const d = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const ff = c.intermediate_size;
  const layer: [string, number[]][] = [
    ['input_layernorm', [d]],
    ['self_attn.q_proj', [q, d]],
    ['self_attn.k_proj', [kv, d]],
    ['self_attn.v_proj', [kv, d]],
    ['self_attn.o_proj', [d, q]],
    ['self_attn.q_norm', [c.head_dim]],
    ['self_attn.k_norm', [c.head_dim]],
    ['post_attention_layernorm', [d]],
    ['mlp.gate_proj', [ff, d]],
    ['mlp.up_proj', [ff, d]],
    ['mlp.down_proj', [d, ff]],
  ];
  const shapes = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, d], vocab: true }];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const [name, shape] of layer) shapes.push({ name: `model.layers.${i}.${name}.weight`, shape, vocab: false });
  }
  shapes.push({ name: 'model.norm.weight', shape: [d], vocab: false });
  if (!c.tie_word_embeddings) shapes.push({ name: 'lm_head.weight', shape: [c.vocab_size, d], vocab: true });
  return shapes;
}

export function estimateLoad(config: SizingConfig, dtype: 'f32' | 'f16', limits: BufferLimits): LoadEstimate {
  const bytes = dtypeBytes[dtype];
  // One buffer holds one tensor and is bound whole, so it must respect both limits.
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const rowBytes = config.hidden_size * bytes;
  let totalBytes = 0;
  let largestTensor = { name: '', shape: [] as number[], bytes: -1 };
  let vocabChunks = 1;
  let refusal: string | null = null;
  const shapes = weightShapes(config);
  for (const { name, shape, vocab } of shapes) {
    const size = shape.reduce((a, b) => a * b, 1) * bytes;
    totalBytes += size;
    if (size > largestTensor.bytes) largestTensor = { name, shape, bytes: size };
    if (size <= limit || refusal) continue;
    if (vocab && rowBytes <= limit) {
      vocabChunks = Math.max(vocabChunks, Math.ceil(config.vocab_size / Math.floor(limit / rowBytes)));
    } else {
      refusal =
        `${name} [${shape.join(', ')}] is ${size} bytes in ${dtype}, over this GPU's buffer limit of ${limit} bytes ` +
        `(maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}) and cannot be split`;
    }
  }
  const kvCacheBytesPer1kTokens = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 1024 * bytes;
  return { totalBytes, tensorCount: shapes.length, largestTensor, kvCacheBytesPer1kTokens, vocabChunks, refusal };
}
