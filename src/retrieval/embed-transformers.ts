// The Embedder on transformers.js: pipeline('feature-extraction') supplies the tokenizer and the
// ONNX session (WebGPU in the page, CPU in Node). The vector is the model's own
// `sentence_embedding` output when it has one — EmbeddingGemma's export does, and only it
// includes the model's dense projections after pooling — else the attention-masked mean of
// `last_hidden_state`; L2-normalised either way.
import { env, mean_pooling, pipeline } from '@huggingface/transformers';
import type { Embedder, EmbeddingDtype } from './embed.ts';

export interface EmbeddingModelChoice {
  id: string;
  label: string;
  dtype: EmbeddingDtype;
}

/** What the page offers; the first is QMD's default embedding model. */
export const EMBEDDING_MODELS: readonly EmbeddingModelChoice[] = [
  { id: 'onnx-community/embeddinggemma-300m-ONNX', label: 'EmbeddingGemma 300M (QMD’s default, ~200 MB at q4)', dtype: 'q4' },
  { id: 'Xenova/all-MiniLM-L6-v2', label: 'all-MiniLM-L6-v2 (small and fast, ~23 MB at q8)', dtype: 'q8' },
];

export interface TransformersEmbedderOptions {
  device: 'webgpu' | 'wasm' | 'cpu';
  dtype: EmbeddingDtype;
  /**
   * Load from this folder (a path in Node, a URL path in the page) and never from the network;
   * the model id is then the folder's name.
   */
  localDir?: string;
  /** Hub base URL with the hub's layout (`<base>/<owner>/<name>/resolve/<revision>/<file>`). */
  hubBase?: string;
  /**
   * Where the page serves onnxruntime-web's .wasm (the engine worker uses the same file): left
   * unset, transformers.js would fetch it from a CDN. One thread: no cross-origin isolation here.
   */
  ortWasmUrl?: string;
}

export interface LoadedEmbedder extends Embedder {
  dispose(): Promise<void>;
}

export async function loadTransformersEmbedder(model: string, options: TransformersEmbedderOptions): Promise<LoadedEmbedder> {
  let id = model;
  if (options.localDir !== undefined) {
    const trimmed = options.localDir.replace(/\/+$/, '');
    const cut = trimmed.lastIndexOf('/');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = cut >= 0 ? `${trimmed.slice(0, cut)}/` : './';
    id = trimmed.slice(cut + 1);
  } else {
    env.allowRemoteModels = true;
    env.allowLocalModels = false;
    if (options.hubBase !== undefined) env.remoteHost = `${options.hubBase.replace(/\/+$/, '')}/`;
  }
  const ort = env.backends.onnx;
  if (options.ortWasmUrl !== undefined && ort.wasm) {
    ort.wasm.wasmPaths = { wasm: options.ortWasmUrl };
    ort.wasm.numThreads = 1;
    ort.wasm.proxy = false;
  }
  const extractor = await pipeline('feature-extraction', id, { device: options.device, dtype: options.dtype });
  return {
    model,
    async embed(texts) {
      if (texts.length === 0) return [];
      const inputs = extractor.tokenizer([...texts], { padding: true, truncation: true });
      const outputs = await extractor.model(inputs);
      const pooled = outputs.sentence_embedding ?? mean_pooling(outputs.last_hidden_state, inputs.attention_mask);
      const normalized = pooled.normalize(2, -1);
      const [rows, dims] = normalized.dims as [number, number];
      const data = normalized.data as Float32Array;
      return Array.from({ length: rows }, (_, r) => data.slice(r * dims, (r + 1) * dims));
    },
    dispose: () => extractor.dispose(),
  };
}
