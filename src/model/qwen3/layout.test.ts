// Vocabulary chunking and float16 conversion of the weights, against the sizes they must respect.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { f16ToF32 } from '../dtype.ts';
import { chunkTokens, layoutShapes, layoutWeights, weightLayout } from './layout.ts';

const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48, untied: true });
const V = config.vocabSize;
const rowBytes = config.hiddenSize * 4;

describe('weightLayout', () => {
  it('is one float32 chunk by default', () => {
    expect(weightLayout(config)).toEqual({ dtype: 'float32', chunks: [{ start: 0, rows: V }] });
  });

  it('uses the fewest chunks that fit, balanced and covering the vocabulary, sized in float32 even for float16', () => {
    for (const [limit, dtype] of [[1_000_000, 'float32'], [V * rowBytes - 1, 'float16'], [rowBytes * 777 + 5, 'float32']] as const) {
      const { chunks } = weightLayout(config, { maxBindingBytes: limit, weightDtype: dtype });
      const maxRows = Math.floor(limit / rowBytes);
      expect(chunks.length).toBe(Math.ceil(V / maxRows));
      chunks.forEach((c, k) => {
        expect(c.rows * rowBytes).toBeLessThanOrEqual(limit);
        expect(c.start).toBe(k === 0 ? 0 : chunks[k - 1]!.start + chunks[k - 1]!.rows);
        expect(chunks[0]!.rows - c.rows).toBeLessThan(chunks.length);
      });
      expect(chunks.at(-1)!.start + chunks.at(-1)!.rows).toBe(V);
    }
  });

  it('refuses a limit that a non-vocabulary tensor exceeds, naming it', () => {
    expect(() => weightLayout(config, { maxBindingBytes: 32 * 48 * 4 - 1 })).toThrow(/mlp\.(gate|up|down)_proj\.weight \[\d+, \d+\] needs 6144 bytes/);
  });
});

describe('layoutWeights', () => {
  it('cuts both vocabulary tensors into the chunks and rounds float16 to nearest', () => {
    const weights = tinyModelWeights(config, 3);
    const layout = weightLayout(config, { maxBindingBytes: 40_000 * rowBytes, weightDtype: 'float16' });
    const out = new Map([...layoutWeights(config, layout, weights)].map(([name, dims, data]) => [name, { dims, data }]));
    expect([...out.keys()]).toEqual([...layoutShapes(config, layout).keys()]);
    const [, , third, last] = layout.chunks;
    expect(out.get('lm_head.weight#3')!.dims).toEqual([last!.rows, 32]);
    const head = weights.get('lm_head.weight')!;
    const chunk = out.get('lm_head.weight#2')!.data;
    expect(chunk).toBeInstanceOf(Uint16Array);
    expect(chunk.length).toBe(third!.rows * 32);
    for (const i of [0, 17, chunk.length - 1]) {
      const want = head[third!.start * 32 + i]!;
      expect(Math.abs(f16ToF32(chunk[i]!) - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -11);
    }
  });
});

describe('chunkTokens', () => {
  it('gives each id exactly one chunk whose start + row is the id', () => {
    const layout = weightLayout(config, { maxBindingBytes: 30_000 * rowBytes });
    const ids = [0, 29_999, 30_000, 100_000, V - 1];
    const chunks = chunkTokens(config, layout, ids);
    ids.forEach((id, i) => {
      const hits = chunks.flatMap((c, k) => (c.mask[i] === 1 ? [k] : []));
      expect(hits.length).toBe(1);
      expect(layout.chunks[hits[0]!]!.start + Number(chunks[hits[0]!]!.rows[i])).toBe(id);
      chunks.forEach((c, k) => k !== hits[0] && expect(c.rows[i]).toBe(0n));
    });
    expect(() => chunkTokens(config, layout, [5, V])).toThrow(/token 1: id 151936 is outside/);
  });
});
