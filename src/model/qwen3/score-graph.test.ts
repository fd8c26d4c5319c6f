// The sequence scorer's contract with the session (its numbers against the decoder's are in
// src/engine/sequence-logps.test.ts): it reads the decoder prefill's inputs by the same names —
// weights in the transposed device layout, vocabulary chunks, an adapter's LoRA inputs — so a
// resident adapter serves it unchanged, and with the vocabulary in chunks no value of it spans
// the whole vocabulary (no [N, V] logits).
import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { buildDecoder } from './decoder.ts';
import { weightLayout } from './layout.ts';
import * as names from './names.ts';
import { buildSequenceScorer, sequenceScorerGraph } from './score-graph.ts';

const config = tinyModelConfig({ seed: 1, untied: true });
const chunked = weightLayout(config, { maxBindingBytes: 50_000 * config.hiddenSize * 4, weightDtype: 'float16' });

async function inputNames(bytes: Uint8Array): Promise<string[]> {
  const session = await nodeRuntime.createSession(bytes);
  const inputs = [...session.inputNames].sort();
  await session.release();
  return inputs;
}

describe('buildSequenceScorer', () => {
  for (const [what, layout] of [['one chunk', weightLayout(config)], ['4 float16 vocabulary chunks', chunked]] as const) {
    for (const lora of [false, true]) {
      it(`${what}, ${lora ? 'with' : 'without'} LoRA inputs: the decoder prefill's inputs, the scored positions, their targets and 1 / T`, async () => {
        const targets = layout.chunks.length === 1 ? [names.LOSS_TARGET] : layout.chunks.flatMap((_, k) => [names.lossTargetRows(k), names.lossTargetMask(k)]);
        const expected = [...(await inputNames(buildDecoder(config, { layout, past: false, lora }))), names.SCORE_POSITIONS, names.INVERSE_TEMPERATURE, ...targets].sort();
        expect(await inputNames(buildSequenceScorer(config, { layout, lora }))).toEqual(expected);
        expect(expected.filter((n) => n.startsWith('lora.')).length).toBe(lora ? 2 * 7 * config.numLayers : 0);
      });
    }
  }

  it('forms the logits per vocabulary chunk: no value spans the vocabulary when it is split', () => {
    expect(chunked.chunks.length).toBe(4);
    const spans = (layout: typeof chunked) => sequenceScorerGraph(config, { layout, lora: true }).nodes.flatMap((n) => n.outputs).filter((v) => v.shape.includes(config.vocabSize));
    expect(spans(chunked)).toEqual([]);
    // With one chunk the head's logits are [N, V]: the check sees them.
    expect(spans(weightLayout(config)).length).toBeGreaterThan(0);
  });
});
