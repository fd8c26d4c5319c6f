// Vocabulary chunking, transposition and float16 conversion of the weights, against the sizes
// they must respect, the values of the checkpoint and the memory a streamed load may take.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { decodeChecked, f16ToF32, f32ToBf16, f32ToF16, type StoredTensor } from '../dtype.ts';
import { dequantizeQ4, quantizeQ4 } from '../q4.ts';
import { qwen3TensorShapes } from '../tensors.ts';
import { chunkTokens, decoderWeights, layoutBytes, layoutShapes, q4InputShapes, readsTransposed, tensorInputs, weightLayout, type WeightData, type WeightDtype } from './layout.ts';
import { q4, transposed } from './names.ts';

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

describe('decoderWeights', () => {
  it('cuts both vocabulary tensors into the chunks, turns each matrix the decoder multiplies by, and rounds float16 to nearest', () => {
    const weights = tinyModelWeights(config, 3);
    const layout = weightLayout(config, { maxBindingBytes: 40_000 * rowBytes, weightDtype: 'float16' });
    const out = new Map([...decoderWeights(config, layout, weights)].map(([name, dims, data]) => [name, { dims, data }]));
    const inputName = (name: string) => (readsTransposed(config, name.replace(/#\d+$/, '')) ? transposed(name) : name);
    expect([...out.keys()]).toEqual([...layoutShapes(config, layout).keys()].map(inputName));
    const [, , third, last] = layout.chunks;
    // Untied: the embedding stays [rows, D] (a Gather reads rows), the LM head is [D, rows].
    expect(out.get('model.embed_tokens.weight#3')!.dims).toEqual([last!.rows, 32]);
    expect(out.get('lm_head.weight#3^T')!.dims).toEqual([32, last!.rows]);
    const close = (half: number, want: number) => expect(Math.abs(f16ToF32(half) - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -11);
    const head = weights.get('lm_head.weight')!;
    const chunk = out.get('lm_head.weight#2^T')!.data;
    expect(chunk).toBeInstanceOf(Uint16Array);
    expect(chunk.length).toBe(third!.rows * 32);
    for (const [row, col] of [[0, 0], [17, 5], [third!.rows - 1, 31]] as const) close(chunk[col * third!.rows + row]!, head[(third!.start + row) * 32 + col]!);
    const embed = out.get('model.embed_tokens.weight#2')!.data;
    for (const i of [0, 17, embed.length - 1]) close(embed[i]!, weights.get('model.embed_tokens.weight')![third!.start * 32 + i]!);
    const up = weights.get('model.layers.1.mlp.up_proj.weight')!; // [48, 32] → [32, 48]
    const upT = out.get(transposed('model.layers.1.mlp.up_proj.weight'))!;
    expect(upT.dims).toEqual([32, 48]);
    close(upT.data[7 * 48 + 40]!, up[40 * 32 + 7]!);
  });
});

describe('tensorInputs on the Qwen3-0.6B embedding (151,936 × 1,024, tied: turned into the LM head)', () => {
  const big = tinyModelConfig({ hidden: 1024, layers: 1 });
  const embedding = new Float32Array(big.vocabSize * big.hiddenSize);
  for (let i = 0; i < embedding.length; i += 997) embedding[i] = (i % 7) - 3;
  // A WebGPU default of 128 MiB per binding: 5 chunks.
  const layout = (weightDtype: WeightDtype) => weightLayout(big, { maxBindingBytes: 128 * 2 ** 20, weightDtype });

  it.each(['float16', 'float32'] as const)('%s: one output buffer per chunk, made when the chunk is asked for', (dtype) => {
    const chunks = layout(dtype).chunks;
    expect(chunks.length).toBe(5);
    const inputs = tensorInputs(big, layout(dtype), 'model.embed_tokens.weight', embedding);
    const started = performance.now();
    for (const [k, { start, rows }] of chunks.entries()) {
      const before = process.memoryUsage().arrayBuffers;
      const next = inputs.next();
      const grown = process.memoryUsage().arrayBuffers - before;
      if (next.done) throw new Error(`chunk ${k} missing`);
      const [name, dims, data] = next.value;
      const bytes = rows * big.hiddenSize * (dtype === 'float16' ? 2 : 4);
      expect(name).toBe(transposed(`model.embed_tokens.weight#${k}`));
      expect(dims).toEqual([big.hiddenSize, rows]);
      // Its own buffer, exactly its size: no view into a larger intermediate.
      expect(data.buffer.byteLength).toBe(bytes);
      // Nothing but that buffer was allocated while making it (a converted or turned copy on the side would double this).
      expect(grown).toBeLessThan(bytes + 2 ** 20);
      const at = (row: number, col: number) => (dtype === 'float16' ? f16ToF32(data[col * rows + row]!) : data[col * rows + row]!);
      for (const [row, col] of [[0, 0], [rows - 1, 1023], [311, 700]] as const) expect(at(row, col)).toBe(embedding[(start + row) * 1024 + col]);
    }
    expect(inputs.next().done).toBe(true);
    console.log(`tensorInputs: 151,936 × 1,024 embedding → 5 transposed ${dtype} chunks in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  });

  it('an untied float32 embedding is cut into views of the tensor, no copy', () => {
    const untied = tinyModelConfig({ hidden: 1024, layers: 1, untied: true });
    const views = [...tensorInputs(untied, weightLayout(untied, { maxBindingBytes: 128 * 2 ** 20 }), 'model.embed_tokens.weight', embedding)];
    expect(views.map(([name]) => name)).toEqual([0, 1, 2, 3, 4].map((k) => `model.embed_tokens.weight#${k}`));
    for (const [, , data] of views) expect(data.buffer).toBe(embedding.buffer);
  });
});

describe('tensorInputs on a tensor as stored (one pass: widened, turned, checked)', () => {
  const tied = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
  const asBf16 = (data: Float32Array): StoredTensor => ({ dtype: 'BF16', data: Uint16Array.from(data, f32ToBf16), origin: 'f: tensor t' });

  it.each([
    ['untied', 'float32', config],
    ['untied', 'float16', config],
    ['tied', 'float32', tied],
    ['tied', 'float16', tied],
  ] as const)('%s, %s: bf16 as stored gives exactly the inputs of its float32 decoding, chunk by chunk', (_, weightDtype, model) => {
    const layout = weightLayout(model, { maxBindingBytes: 40_000 * rowBytes, weightDtype });
    for (const [name, data] of tinyModelWeights(model, 5)) {
      const stored = asBf16(data);
      const fromStored = [...tensorInputs(model, layout, name, stored)];
      const fromFloat = [...tensorInputs(model, layout, name, decodeChecked(stored))];
      expect(fromStored.map(([input, dims]) => [input, dims])).toEqual(fromFloat.map(([input, dims]) => [input, dims]));
      const bytes = (values: WeightData) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      // Bit for bit, and of the same element type.
      fromStored.forEach(([input, , values], k) => {
        expect(values.constructor, input).toBe(fromFloat[k]![2].constructor);
        expect(bytes(values).equals(bytes(fromFloat[k]![2])), input).toBe(true);
      });
    }
  });

  it.each([
    ['bf16 → transposed float16 (the LM head)', 'lm_head.weight', 'float16', 'BF16', 0x7fc0, 'NaN'],
    ['float32 → float32 views (the untied embedding)', 'model.embed_tokens.weight', 'float32', 'F32', -Infinity, '-Infinity'],
  ] as const)('%s: a non-finite value in chunk 3 of 5 stops the tensor there, naming its element', (_, name, weightDtype, dtype, bad, shown) => {
    const layout = weightLayout(config, { maxBindingBytes: Math.ceil(V / 5) * rowBytes, weightDtype });
    expect(layout.chunks.length).toBe(5);
    const at = (layout.chunks[2]!.start + 3) * 32 + 7;
    const data = tinyModelWeights(config, 6).get(name)!;
    const tensor: StoredTensor = dtype === 'F32' ? { dtype, data: data.slice(), origin: 'm.safetensors: tensor x' } : { dtype, data: Uint16Array.from(data, f32ToBf16), origin: 'm.safetensors: tensor x' };
    tensor.data[at] = bad;
    const made: string[] = [];
    expect(() => {
      for (const [input] of tensorInputs(config, layout, name, tensor)) made.push(input);
    }).toThrow(`m.safetensors: tensor x holds a non-finite value (${shown}) at element ${at} of ${V * 32}`);
    // Chunks 0 and 1 were made (and, in a load, uploaded and released); nothing past the bad one.
    expect(made.length).toBe(2);
    // A Float32Array is taken as decoded (and checked) already: the same value passes through.
    const decoded = tensor.dtype === 'F32' ? tensor.data : new Float32Array(data.length).fill(NaN);
    expect([...tensorInputs(config, layout, name, decoded)].length).toBe(5);
  });
});

describe('the q4 layout: matrices as 4-bit codes and scales, norms float32', () => {
  // A vocabulary of 8,000 rows: what is checked does not need 151,936 of them, and their quantization takes seconds.
  const model = { ...tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96, untied: true }), vocabSize: 8_000 };
  const VQ = model.vocabSize;
  const asBf16 = (data: Float32Array): StoredTensor => ({ dtype: 'BF16', data: Uint16Array.from(data, f32ToBf16), origin: 'm.safetensors: tensor x' });

  it('refuses a model whose matrix rows are not whole blocks of 32, naming the tensor', () => {
    expect(() => weightLayout(config, { weightDtype: 'q4' })).toThrow(
      'weightLayout: model.layers.0.mlp.down_proj.weight [32, 48] has 48 columns, not a multiple of the 4-bit block of 32: this model cannot be loaded in q4',
    );
    expect(weightLayout(config, { weightDtype: 'float16' }).chunks.length).toBe(1);
  });

  it('cuts the vocabulary by the packed codes (D/2 bytes a row), not by a float32 row', () => {
    const limit = 1_000 * 32;
    expect(weightLayout(model, { maxBindingBytes: limit, weightDtype: 'q4' }).chunks.length).toBe(VQ / 1_000);
    expect(weightLayout(model, { maxBindingBytes: limit }).chunks.length).toBe(VQ / 125);
    // A projection is bound as its codes: [96, 64] is 3,072 bytes of them.
    expect(() => weightLayout(model, { maxBindingBytes: 3_071, weightDtype: 'q4' })).toThrow(/mlp\.(gate|up|down)_proj\.weight \[\d+, \d+\] needs 3072 bytes as 4-bit codes/);
  });

  it('streams each matrix (and vocabulary chunk) as the codes and scales of its float32 values, bf16 as stored giving the same bytes', () => {
    const layout = weightLayout(model, { maxBindingBytes: 2_000 * 32, weightDtype: 'q4' });
    expect(layout.chunks.length).toBe(4);
    let bytes = 0;
    for (const [name, data] of tinyModelWeights(model, 8)) {
      const stored = asBf16(data);
      const decoded = decodeChecked(stored);
      const inputs = [...tensorInputs(model, layout, name, stored)];
      bytes += inputs.reduce((sum, [, , values]) => sum + values.byteLength, 0);
      const dims = qwen3TensorShapes(model).get(name)!;
      if (dims.length === 1) {
        expect(inputs).toEqual([[name, dims, decoded]]);
        continue;
      }
      const cols = dims[1]!;
      const pieces = name.endsWith('embed_tokens.weight') || name === 'lm_head.weight' ? layout.chunks.map((c, k) => ({ input: `${name}#${k}`, ...c })) : [{ input: name, start: 0, rows: dims[0]! }];
      expect(inputs.map(([input]) => input)).toEqual(pieces.flatMap(({ input }) => [q4(input, 'packed'), q4(input, 'scales')]));
      const same = (a: WeightData, b: WeightData) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      pieces.forEach(({ start, rows }, k) => {
        const want = quantizeQ4(decoded.subarray(start * cols, (start + rows) * cols), rows, cols, name);
        const [[, packedDims, packed], [, scaleDims, scales]] = [inputs[2 * k]!, inputs[2 * k + 1]!];
        expect([packedDims, scaleDims]).toEqual([[rows, cols / 32, 16], [rows, cols / 32]]);
        expect([packed.constructor, scales.constructor]).toEqual([Uint8Array, Float32Array]);
        expect([same(packed, want.packed), same(scales, want.scales)], name).toEqual([true, true]);
        // Within half a step of the checkpoint's values.
        const back = dequantizeQ4({ packed: packed as Uint8Array, scales: scales as Float32Array }, rows, cols);
        const over = back.findIndex((v, i) => Math.abs(v - decoded[start * cols + i]!) > Math.abs(want.scales[(i / 32) | 0]!) / 2 + 1e-7);
        expect(over, name).toBe(-1);
      });
    }
    expect(bytes).toBe(layoutBytes(model, layout));
  });

  it('a non-finite value stops the tensor in the rows that hold it, naming its element', () => {
    const layout = weightLayout(model, { maxBindingBytes: Math.ceil(VQ / 5) * 32, weightDtype: 'q4' });
    expect(layout.chunks.length).toBe(5);
    const at = (layout.chunks[2]!.start + 300) * 64 + 7;
    const tensor = asBf16(tinyModelWeights(model, 6).get('lm_head.weight')!);
    tensor.data[at] = 0x7fc0;
    const made: string[] = [];
    expect(() => {
      for (const [input] of tensorInputs(model, layout, 'lm_head.weight', tensor)) made.push(input);
    }).toThrow(`m.safetensors: tensor x holds a non-finite value (NaN) at element ${at} of ${VQ * 64}`);
    expect(made).toEqual([0, 1].flatMap((k) => [q4(`lm_head.weight#${k}`, 'packed'), q4(`lm_head.weight#${k}`, 'scales')]));
  });

  it('layoutBytes is what the inputs of every layout hold', () => {
    const weights = tinyModelWeights(model, 2);
    for (const weightDtype of ['float32', 'float16', 'q4', 'q4f16'] as const) {
      const layout = weightLayout(model, { maxBindingBytes: 3_000 * 256, weightDtype });
      const held = [...decoderWeights(model, layout, weights)].reduce((sum, [, , data]) => sum + data.byteLength, 0);
      expect(layoutBytes(model, layout), weightDtype).toBe(held);
    }
    // 4 + 1/2 bits per weight beside float32's 32 (the norm vectors, float32 in both, add the rest).
    const f32 = layoutBytes(model, weightLayout(model));
    expect(layoutBytes(model, weightLayout(model, { weightDtype: 'q4' })) / f32).toBeCloseTo(5 / 32, 2);
    expect(layoutBytes(model, weightLayout(model, { weightDtype: 'q4f16' })) / f32).toBeCloseTo(4.5 / 32, 2);
  });
});

describe('the q4f16 layout: the q4 codes, float16 scales and norm vectors', () => {
  const model = { ...tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96, untied: true }), vocabSize: 8_000 };
  const weights = tinyModelWeights(model, 8);

  it("gives q4's codes, its scales and norms rounded to float16 (nearest even), and the vocabulary chunks q4 has", () => {
    const [q4Layout, half] = [weightLayout(model, { maxBindingBytes: 2_000 * 32, weightDtype: 'q4' }), weightLayout(model, { maxBindingBytes: 2_000 * 32, weightDtype: 'q4f16' })];
    expect(half.chunks).toEqual(q4Layout.chunks);
    const got = [...decoderWeights(model, half, weights)];
    const want = [...decoderWeights(model, q4Layout, weights)];
    expect(got.map(([input, dims]) => [input, dims])).toEqual(want.map(([input, dims]) => [input, dims]));
    got.forEach(([input, , data], i) => {
      const q4Data = want[i]![2];
      if (q4Data instanceof Uint8Array) expect(Buffer.from(data as Uint8Array).equals(Buffer.from(q4Data)), input).toBe(true);
      else expect([data.constructor.name, [...data].join()], input).toEqual(['Uint16Array', Array.from(q4Data, f32ToF16).join()]);
    });
    expect(q4InputShapes(model, half).get('model.norm.weight')).toEqual([['model.norm.weight', [64], 'F16']]);
    expect(q4InputShapes(model, half).get('model.layers.0.mlp.up_proj.weight')!.map(([, , dtype]) => dtype)).toEqual(['U8', 'F16']);
  });

  it('refuses a block whose scale is past float16, naming the tensor and the way out', () => {
    const big = new Float32Array(weights.get('model.layers.1.mlp.up_proj.weight')!);
    big[40] = 1e6; // block 1's scale: 1e6 / 8 = 125,000 > 65,504
    expect(() => [...tensorInputs(model, weightLayout(model, { weightDtype: 'q4f16' }), 'model.layers.1.mlp.up_proj.weight', big)]).toThrow(
      "model.layers.1.mlp.up_proj.weight: block 1's scale -125000 is past float16's range; load this model in q4 (float32 scales)",
    );
    expect(() => [...tensorInputs(model, weightLayout(model, { weightDtype: 'q4' }), 'model.layers.1.mlp.up_proj.weight', big)]).not.toThrow();
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
