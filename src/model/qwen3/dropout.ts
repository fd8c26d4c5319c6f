// LoRA dropout masks made inside the train-step graph. Host masks cost a [B, T, in] float32
// upload per branch and micro-batch (2.3 GB at Qwen3-0.6B, seven targets, 4 × 512 tokens); here
// each element's keep decision is a counter-based hash of (run key, micro-batch key, branch,
// element index), so a micro-batch's masks are a pure function of (seed, step, micro-batch) —
// a resumed run draws the very same ones — and the graph keeps only a bool per element for the
// backward pass.
//
// Only int32 Add/Mul/Div/Less and Where: ops that onnxruntime-node's CPU EP and onnxruntime-web's
// WebGPU EP both run (WebGPU has no bitwise ops, and int64 arithmetic falls back to the CPU there:
// design.md "Pitfalls"). Both wrap int32 products and truncate divisions, so the masks are the
// same bits on either. Without XOR, shift-and-add rounds are nearly linear (keys one apart give
// correlated masks), so one round multiplies the state by itself plus the micro-batch key.
import type { Graph, Value } from '../../onnx/index.ts';
import { hashInts } from '../../random.ts';
import * as names from './names.ts';

/** The dropout inputs a train step with dropout declares once (names.ts). */
export interface DropoutInputs {
  runKey: Value; // int32 [] hashInts(seed): fixed for a run
  stepKey: Value; // int32 [] hashInts(seed, step, micro-batch)
  threshold: Value; // int32 [] an element is dropped where its 24-bit hash < threshold
  scale: Value; // [] 1 / (1 − p) on kept elements
}

export function declareDropout(g: Graph): DropoutInputs {
  return {
    runKey: g.input(names.DROPOUT_RUN_KEY, 'int32', []),
    stepKey: g.input(names.DROPOUT_STEP_KEY, 'int32', []),
    threshold: g.input(names.DROPOUT_THRESHOLD, 'int32', []),
    scale: g.input(names.DROPOUT_SCALE, 'float32', []),
  };
}

// Odd multipliers (golden ratio, murmur3's), as int32; a product wraps mod 2³².
const MULTIPLIERS = [0x9e3779b1, 0x85ebca6b, 0xc2b2ae35] as const;
const HALF = 2 ** 23; // hashes are signed 24-bit: [−2²³, 2²³)
// Keeps a branch's counters apart from the next branch's (an odd step through the 2³² ring).
const BRANCH_STRIDE = 0x632be5ab;

/** h + h / 2^k with truncating division: folds high bits into low ones, as xorshift would. */
const fold = (g: Graph, h: Value, k: number) => g.add(h, g.div(h, 2 ** k));

/**
 * Where branch `branch`'s input [batch, length, width] is dropped (bool, true = drop) for the
 * micro-batch the inputs key: element i hashes (i + runKey + branch·stride).
 */
export function dropMask(g: Graph, d: DropoutInputs, branch: number, batch: number, length: number, width: number): Value {
  const rows = batch * length;
  if (rows * width >= 2 ** 31) {
    throw new Error(`dropMask: a ${batch} × ${length} × ${width} branch input has over 2³¹ elements, past the int32 counter; lower the batch size or max length`);
  }
  return g.scope(`dropout${branch}`, () => {
    const offset = g.add(d.runKey, Math.imul(branch, BRANCH_STRIDE));
    const rowStart = g.add(g.reshape(g.range(0, rows * width, 'int32', width), [rows, 1]), offset); // [B·T, 1]
    let h = g.add(rowStart, g.reshape(g.range(0, width, 'int32'), [1, width])); // [B·T, in] counter + key
    h = fold(g, g.mul(h, MULTIPLIERS[0]), 16);
    h = fold(g, g.mul(h, MULTIPLIERS[1]), 13);
    h = fold(g, g.mul(h, g.add(h, d.stepKey)), 16);
    h = fold(g, g.mul(h, MULTIPLIERS[2]), 15);
    return g.reshape(g.less(g.div(h, 256), d.threshold), [batch, length, width]);
  });
}

/** drop(x)·scale: the dropped elements zeroed, the rest scaled so the expectation is x. */
export const applyDropout = (g: Graph, x: Value, drop: Value, d: DropoutInputs): Value => g.mul(g.where(drop, 0, x), d.scale);

/** The dropout inputs' int32 threshold for probability p: round(p·2²⁴) of the 2²⁴ hash values lie below it. */
export const dropThreshold = (p: number): number => Math.round(p * 2 ** 24) - HALF;

/** The values of DropoutInputs for one micro-batch. */
export interface DropoutValues {
  runKey: number;
  stepKey: number;
  threshold: number;
  scale: number;
}

/**
 * DropoutInputs for micro-batch `microBatch` of optimizer step `step` (both 0-based) at dropout
 * `p`; `train` false keeps every element (evaluation).
 */
export function dropoutValues(p: number, seed: number, step: number, microBatch: number, train: boolean): DropoutValues {
  const on = train && p > 0;
  return {
    runKey: hashInts(seed),
    stepKey: hashInts(seed, step, microBatch),
    threshold: on ? dropThreshold(p) : -HALF,
    scale: on ? 1 / (1 - p) : 1,
  };
}
