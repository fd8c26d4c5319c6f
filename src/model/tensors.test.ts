import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { LM_HEAD, resolveTiedHead } from './tensors.ts';

// The rule both loaders (model-dir.ts for the CLI, browser-model.ts for the page) apply.
describe('resolveTiedHead', () => {
  const config = tinyModelConfig({ hidden: 4, layers: 1 });
  const embedding = Float32Array.from({ length: config.vocabSize * 4 }, (_, i) => (i % 7) / 7);
  const stored = (head: Float32Array | null) => ({
    names: () => ['model.embed_tokens.weight', ...(head ? [LM_HEAD] : [])],
    read: async (name: string) => (name === LM_HEAD ? head! : embedding),
  });

  it('keeps a tied config tied without a stored head, or with an identical copy', async () => {
    expect(await resolveTiedHead(config, stored(null), 'm')).toEqual({ config });
    expect(await resolveTiedHead(config, stored(embedding.slice()), 'm')).toEqual({ config });
  });

  it('unties, with a warning naming the source, when the stored head differs', async () => {
    const head = embedding.slice();
    head[5] += 1;
    const { config: resolved, warning } = await resolveTiedHead(config, stored(head), 'folder/model.safetensors');
    expect(resolved.tieWordEmbeddings).toBe(false);
    expect(warning).toMatch(/^folder\/model\.safetensors: config\.json ties the LM head .* using the stored lm_head\.weight \(untied\)/);
  });
});
