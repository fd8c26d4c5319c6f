// The in-graph dropout masks: the graph's bits equal an independent int32 computation of the
// same hash (Math.imul wraps as int32 Mul does on both runtimes; Math.trunc divides as they do),
// the drop rate is p, and masks of other micro-batches, branches and runs are unrelated.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../engine/runtime.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Graph } from '../../onnx/index.ts';
import { hashInts } from '../../random.ts';
import { declareDropout, dropMask, dropoutValues, dropThreshold, type DropoutValues } from './dropout.ts';
import * as names from './names.ts';

/** The hash of dropout.ts written out in plain int32 arithmetic: true where element i is dropped. */
function referenceDrop(i: number, branch: number, d: DropoutValues): boolean {
  const fold = (h: number, k: number) => (h + Math.trunc(h / 2 ** k)) | 0;
  let h = (i + d.runKey + Math.imul(branch, 0x632be5ab)) | 0;
  h = fold(Math.imul(h, 0x9e3779b1), 16);
  h = fold(Math.imul(h, 0x85ebca6b), 13);
  h = fold(Math.imul(h, (h + d.stepKey) | 0), 16);
  h = fold(Math.imul(h, 0xc2b2ae35), 15);
  return Math.trunc(h / 256) < d.threshold;
}

const [B, T, W] = [2, 16, 96];
const BRANCHES = 3;

async function masks(d: DropoutValues): Promise<Uint8Array[]> {
  const g = new Graph('dropout-masks');
  const inputs = declareDropout(g);
  for (let branch = 0; branch < BRANCHES; branch++) g.output(g.cast(dropMask(g, inputs, branch, B, T, W), 'uint8'), `drop${branch}`);
  const session = await nodeRuntime.createSession(g.toBytes());
  const out = await session.run(
    {
      [names.DROPOUT_RUN_KEY]: hostTensor('int32', [], Int32Array.of(d.runKey)),
      [names.DROPOUT_STEP_KEY]: hostTensor('int32', [], Int32Array.of(d.stepKey)),
      [names.DROPOUT_THRESHOLD]: hostTensor('int32', [], Int32Array.of(d.threshold)),
      // The scale is declared for the branches' use; the masks do not read it.
      ...(session.inputNames.includes(names.DROPOUT_SCALE) ? { [names.DROPOUT_SCALE]: hostTensor('float32', [], Float32Array.of(d.scale)) } : {}),
    },
    session.outputNames,
  );
  await session.release();
  return Array.from({ length: BRANCHES }, (_, b) => out[`drop${b}`]!).map((t) => {
    if (t.kind !== 'host') throw new Error('expected host outputs');
    return t.data as Uint8Array;
  });
}

const agreement = (a: Uint8Array, b: Uint8Array) => a.reduce((n, v, i) => n + (v & b[i]!), 0) / a.length;

describe('in-graph LoRA dropout masks', () => {
  it('are the bits of the int32 hash, computed independently, for every branch', async () => {
    const d = dropoutValues(0.3, 42, 5, 1, true);
    expect(d.stepKey).toBe(hashInts(42, 5, 1));
    const got = await masks(d);
    got.forEach((mask, branch) => {
      expect(mask).toHaveLength(B * T * W);
      mask.forEach((v, i) => {
        if (v !== (referenceDrop(i, branch, d) ? 1 : 0)) throw new Error(`branch ${branch} element ${i}: graph ${v}`);
      });
    });
  });

  it('drop a fraction p, keep everything at evaluation, and differ across steps, micro-batches, branches and seeds', async () => {
    const p = 0.25;
    const at = (seed: number, step: number, micro: number) => masks(dropoutValues(p, seed, step, micro, true));
    const base = await at(42, 3, 0);
    const n = B * T * W * BRANCHES;
    const dropped = base.reduce((sum, m) => sum + m.reduce((s, v) => s + v, 0), 0);
    // Binomial(n = 9,216, p = ¼): σ ≈ 42 elements; allow 5σ.
    expect(Math.abs(dropped - p * n)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    const others = [await at(42, 4, 0), await at(42, 3, 1), await at(43, 3, 0)];
    // Unrelated masks overlap in p² of the elements (σ ≈ 0.005 over one branch).
    for (const other of others) expect(Math.abs(agreement(base[0]!, other[0]!) - p * p)).toBeLessThan(0.03);
    expect(Math.abs(agreement(base[0]!, base[1]!) - p * p)).toBeLessThan(0.03);
    const kept = await masks(dropoutValues(p, 42, 3, 0, false));
    expect(kept.every((m) => m.every((v) => v === 0))).toBe(true);
    expect(dropThreshold(0)).toBe(-(2 ** 23));
  });

  it('refuse a branch input past the int32 counter, naming its shape', () => {
    const g = new Graph('too-big');
    expect(() => dropMask(g, declareDropout(g), 0, 1024, 2048, 1024)).toThrow('dropMask: a 1024 × 2048 × 1024 branch input has over 2³¹ elements');
  });
});
