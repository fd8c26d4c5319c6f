import { describe, expect, it } from 'vitest';
import { BUDGET_BUFFERS, loadBudget, loadDtype } from './browser-model.ts';
import { parseQwen3Config } from '../model/config.ts';
import { QWEN3_06B_CONFIG } from '../testing/qwen3-configs.ts';

const qwen3_06b = parseQwen3Config(QWEN3_06B_CONFIG);

const GiB = 2 ** 30;

describe('loadBudget', () => {
  it('counts the weights and KV cache from the config and allows them up to four maxBufferSize', () => {
    const { budget, refusal } = loadBudget(qwen3_06b, 'f16', { maxBufferSize: 2 * GiB, maxStorageBufferBindingSize: 2 * GiB });
    // Per layer: q 2048·1024, k and v 1024·1024 each, o 1024·2048, MLP 3·3072·1024 in float16; norms 2·1024 + 2·128 in float32.
    const matrices = 2048 * 1024 * 2 + 1024 * 1024 * 2 + 3 * 3072 * 1024;
    const norms = 2 * 1024 + 2 * 128;
    expect(budget.weightBytes).toBe(2 * (151936 * 1024 + 28 * matrices) + 4 * (28 * norms + 1024));
    // The KV cache is float32 with float16 weights too (the decoder's past/present are float32).
    expect(budget.kvCacheBytesPer1kTokens).toBe(2 * 4 * 28 * 8 * 128 * 1024);
    expect(budget.budgetBytes).toBe(BUDGET_BUFFERS * 2 * GiB);
    expect(refusal).toBeNull();
  });

  it('refuses a total over the budget by one byte, naming the bytes needed and the limit', () => {
    const { budget } = loadBudget(qwen3_06b, 'f32', { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB });
    const needed = budget.weightBytes + budget.kvCacheBytesPer1kTokens;
    const limits = (maxBufferSize: number) => ({ maxBufferSize, maxStorageBufferBindingSize: GiB });
    expect(loadBudget(qwen3_06b, 'f32', limits(Math.ceil(needed / BUDGET_BUFFERS))).refusal).toBeNull();
    const over = Math.floor((needed - 1) / BUDGET_BUFFERS);
    expect(loadBudget(qwen3_06b, 'f32', limits(over)).refusal).toBe(
      `weights (${budget.weightBytes} bytes in f32) and a 1,024-token KV cache (${budget.kvCacheBytesPer1kTokens} bytes) ` +
        `need ${needed} bytes, over this GPU's budget of ${BUDGET_BUFFERS * over} bytes (${BUDGET_BUFFERS} × maxBufferSize ${over})`,
    );
  });

  it('refuses a layer matrix over the binding limit, which cannot be split, before the budget', () => {
    const { refusal } = loadBudget(qwen3_06b, 'f32', { maxBufferSize: 8 * GiB, maxStorageBufferBindingSize: 4 * 2 ** 20 });
    expect(refusal).toMatch(/^model\.layers\.0\.self_attn\.q_proj\.weight \[2048, 1024\] needs 8388608 bytes in float32, over .* can be split \(this GPU: .*\)$/);
  });
});

describe('loadDtype', () => {
  it('loads what the panel asks for, f16 falling back to f32 without shader-f16 (q4 needs no shader feature)', () => {
    expect([loadDtype('f16', true), loadDtype('f16', false), loadDtype('f32', true), loadDtype('q4', false)]).toEqual(['f16', 'f32', 'f32', 'q4']);
    expect([loadDtype('q4f16', true), loadDtype('q4f16', false), loadDtype('f32', false)]).toEqual(['q4f16', 'q4', 'f32']);
    // A q4 budget is about a third of f16's at 0.6B: what lets it load on a GPU that refuses f16.
    const limits = { maxBufferSize: 2 * GiB, maxStorageBufferBindingSize: 2 * GiB };
    expect(loadBudget(qwen3_06b, 'q4', limits).budget.weightBytes / loadBudget(qwen3_06b, 'f16', limits).budget.weightBytes).toBeCloseTo(0.313, 3);
  });
});
