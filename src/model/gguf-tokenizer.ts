// tokenizer.ggml.* metadata for a Qwen3 GGUF, built from the HF tokenizer.json / tokenizer_config.json the way
// llama.cpp's convert_hf_to_gguf.py does (byte-level BPE "gpt2", pre-tokenizer "qwen2").
import type { Qwen3Config } from './config.ts';
import type { GgufMetadata } from './gguf.ts';

// llama.cpp token types.
const normal = 1;
const control = 3;
const userDefined = 4;
const unused = 5;

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function tokenizerParts(tokenizerJson: unknown, file: string) {
  const t = tokenizerJson as { model?: { type?: string; vocab?: unknown; merges?: unknown }; added_tokens?: unknown };
  if (t?.model?.type !== 'BPE') throw new Error(`${file}: model.type is ${JSON.stringify(t?.model?.type)}, expected "BPE"`);
  if (typeof t.model.vocab !== 'object' || t.model.vocab === null) throw new Error(`${file}: missing model.vocab`);
  if (!Array.isArray(t.model.merges)) throw new Error(`${file}: missing model.merges`);
  if (!Array.isArray(t.added_tokens)) throw new Error(`${file}: missing added_tokens`);
  return {
    vocab: t.model.vocab as Record<string, number>,
    // Newer tokenizers store merges as pairs, older ones as "a b" strings; GGUF wants the strings.
    merges: (t.model.merges as unknown[]).map((m) => (Array.isArray(m) ? m.join(' ') : String(m))),
    added: t.added_tokens as AddedToken[],
  };
}

/** Metadata entries for the tokenizer; ids past the tokenizer's last token become unused `[PADn]` slots. */
export function qwen3TokenizerMetadata(
  tokenizerJson: unknown,
  tokenizerConfig: unknown,
  config: Qwen3Config,
  file = 'tokenizer.json',
): GgufMetadata {
  const { vocab, merges, added } = tokenizerParts(tokenizerJson, file);
  const tokens: string[] = Array.from({ length: config.vocabSize }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(config.vocabSize).fill(unused);
  const place = (id: number, text: string, type: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new Error(`${file}: token ${JSON.stringify(text)} has id ${id}, outside the model's vocab_size ${config.vocabSize}`);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (const [text, id] of Object.entries(vocab)) place(id, text, normal);
  for (const token of added) {
    // convert_hf_to_gguf.py treats <|…|> tokens as control tokens even when not flagged special.
    const looksSpecial = token.content.startsWith('<|') && token.content.endsWith('|>');
    place(token.id, token.content, token.special || looksSpecial ? control : userDefined);
  }
  const idOf = (field: string): number | null => {
    const value = (tokenizerConfig as Record<string, unknown> | null)?.[field];
    const content = typeof value === 'object' && value !== null ? (value as { content?: unknown }).content : value;
    if (content == null) return null;
    const token = added.find((t) => t.content === content);
    if (!token) throw new Error(`tokenizer_config.json: ${field} ${JSON.stringify(content)} is not an added token of ${file}`);
    return token.id;
  };
  const metadata: GgufMetadata = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: merges }],
  ];
  const eos = idOf('eos_token') ?? config.eosTokenId;
  const pad = idOf('pad_token');
  const bos = idOf('bos_token') ?? config.bosTokenId;
  if (eos !== null) metadata.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  if (pad !== null) metadata.push(['tokenizer.ggml.padding_token_id', { type: 'u32', value: pad }]);
  if (bos !== null) metadata.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: bos }]);
  const addBos = (tokenizerConfig as Record<string, unknown> | null)?.add_bos_token === true;
  metadata.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }]);
  const template = (tokenizerConfig as Record<string, unknown> | null)?.chat_template;
  if (typeof template === 'string') metadata.push(['tokenizer.chat_template', { type: 'string', value: template }]);
  return metadata;
}
