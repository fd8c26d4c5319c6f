// The dry step's LoRA gradient (the train-step graph fed GRPO's token weights, with the zero-row
// position and the temperature folded into the final norm) against central differences of the loss
// autograd differentiates, on a tiny Qwen3 with a policy adapter away from the reference, for every
// loss_type. At ρ = 1 the loss's value does not move with the policy (−A is constant); TRL's
// gradient is that of the surrogate Σ ρ·(−A + β·KL)/n (use_bias_correction_kl) with ρ = exp(logp − logp_old), logp_old
// held at the unperturbed policy (inside the clip for these small moves).
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter, type LoraAdapter } from '../model/peft.ts';
import { DEFAULT_PROMPT_FORMAT } from '../model/prompt.ts';
import * as names from '../model/qwen3/names.ts';
import { normalisers, tokenKl } from './grpo.ts';
import type { GrpoSettings } from './grpo-config.ts';
import { grpoStep, scoreGrpoBatch, type GrpoBatch, type GrpoStepOptions } from './grpo-step.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';

const config = tinyModelConfig({ seed: 9 });
const session = await Qwen3Session.load(nodeRuntime, config, tinyModelWeights(config, 9), { graphs: 'lazy' });
const tokenizer = await loadBundledTokenizer();
afterAll(() => session.release());

// B ≠ 0: the policy differs from the reference, so the KL term and its gradient are not zero.
const policy = newAdapter(config, { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], seed: 3, bStd: 0.05 });
const batch: GrpoBatch = {
  prompts: ['auth config', 'git rebase'],
  completions: [
    ['lex: auth config', 'hello there'],
    ['vec: how to rebase', 'lex: rebase onto main\nlex: git'],
  ],
  rewards: [
    [1, 0],
    [0.25, 0.75],
  ],
};
const settings = (lossType: GrpoSettings['lossType']): GrpoSettings => ({
  numGenerations: 2,
  // Cuts the last completion: its tokens stay in the loss (mask_truncated_completions false).
  maxCompletionLength: 8,
  beta: 0.3,
  useBiasCorrectionKl: true,
  temperature: 0.7,
  topK: 0,
  topP: 1,
  lossType,
  scaleRewards: 'group',
  maskTruncatedCompletions: false,
  maxSteps: 1,
  rewardWeights: { reward: 1, eval: 0 },
});
const options = (lossType: GrpoSettings['lossType'], adapter: LoraAdapter = policy): GrpoStepOptions => ({
  runtime: nodeRuntime,
  session,
  tokenizer,
  format: DEFAULT_PROMPT_FORMAT,
  policy: adapter,
  grpo: settings(lossType),
  microBatch: 2,
});

/** `policy` with one element of one LoRA matrix moved by `delta`. */
function nudged(layer: number, target: 'q_proj' | 'v_proj', matrix: 'a' | 'b', index: number, delta: number): LoraAdapter {
  const layers = policy.layers.map((pairs) => ({ ...pairs }));
  const pair = layers[layer]![target]!;
  const values = Float32Array.from(pair[matrix]);
  values[index]! += delta;
  layers[layer]![target] = { ...pair, [matrix]: values };
  return { ...policy, layers };
}

describe('GRPO dry step', () => {
  // Finite differences cost seconds per element here (a forward per token over the 151,936-token head),
  // so they run for one loss_type; the normalisers of all four are checked in grpo.test.ts.
  for (const [lossType, elements] of [['grpo', 1], ['bnpo', 0], ['dr_grpo', 0], ['dapo', 0]] as const) {
    it(`${lossType}: the train step scores the weights it is fed${elements ? ', and its LoRA gradient equals finite differences of the loss' : ''}`, async () => {
      const step = await grpoStep(batch, options(lossType));
      const { scored } = step;
      // Each completion and its <|im_end|>, cut at max_completion_length 8 (the last one is).
      expect(step.tokens).toEqual(batch.completions.map((group) => group.map((c) => Math.min(tokenizer.encode(c).length + 1, 8))));
      expect(scored.rows[3]!.truncated).toBe(true);
      // The graph's Σ w·CE (its constant taken off) equals Σ w·(−logp) from the forward's logits / T:
      // the weights reached the right positions and the temperature reached the graph.
      const hostSum = scored.terms.weights.reduce((sum, ws, k) => sum + ws.reduce((s, w, t) => s - w * scored.sequences[k]!.logp[t]!, 0), 0);
      expect(Math.abs(step.weightedCrossEntropy - hostSum)).toBeLessThan(2e-5 * (1 + Math.abs(hostSum)) + 1e-5);
      const n = normalisers(scored.sequences, { lossType, beta: 0.3, biasCorrectionKl: true, maxCompletionLength: 8, microBatch: 2 });
      const surrogate = (moved: typeof scored.sequences) =>
        moved.reduce((sum, s, i) => sum + s.logp.reduce((a, logp, t) => a + Math.exp(logp - scored.sequences[i]!.logp[t]!) * (-s.advantage + 0.3 * tokenKl(logp, s.ref[t]!)) / n[i]!, 0), 0);
      expect(surrogate(scored.sequences)).toBeCloseTo(step.loss, 12);
      let checked = 0;
      for (const [layer, target, matrix] of [[1, 'v_proj', 'b'], [0, 'q_proj', 'a'], [0, 'v_proj', 'a']] as const) {
        const name = matrix === 'a' ? names.loraA(layer, target) : names.loraB(layer, target);
        const g = step.gradients.get(name)!;
        // The largest elements (where the check means most) of each matrix.
        const largest = [...g.keys()].sort((x, y) => Math.abs(g[y]!) - Math.abs(g[x]!)).slice(0, elements);
        for (const index of largest) {
          const h = 1e-3;
          const at = async (d: number) => surrogate((await scoreGrpoBatch(batch, options(lossType, nudged(layer, target, matrix, index, d)))).sequences);
          const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
          expect(Math.abs(numeric - g[index]!), `${name}[${index}]`).toBeLessThan(2e-4 + 2e-2 * Math.abs(g[index]!));
          checked++;
        }
      }
      expect(checked).toBe(3 * elements);
      expect(step.gradNorm).toBeGreaterThan(0);
    });
  }
});

describe('GRPO dry step on float16 weights with the vocabulary in chunks', () => {
  it("gives the float32 session's loss, KL and gradient to float16 rounding", async () => {
    // A binding limit of a third of the embedding splits the vocabulary as a small GPU would.
    const maxBindingBytes = Math.floor((config.vocabSize * config.hiddenSize * 4) / 3);
    const half = await Qwen3Session.load(nodeRuntime, config, tinyModelWeights(config, 9), { graphs: 'lazy', weightDtype: 'float16', maxBindingBytes });
    try {
      expect([half.layout.dtype, half.layout.chunks.length >= 3]).toEqual(['float16', true]);
      const full = await grpoStep(batch, options('dapo'));
      const step = await grpoStep(batch, { ...options('dapo'), session: half });
      expect(Math.abs(step.loss - full.loss)).toBeLessThan(1e-3 * (1 + Math.abs(full.loss)));
      step.kl.flat().forEach((kl, i) => expect(Math.abs(kl - full.kl.flat()[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(full.kl.flat()[i]!))));
      expect(Math.abs(step.gradNorm - full.gradNorm) / full.gradNorm).toBeLessThan(1e-2);
      // Not the same numbers to the bit: the float16 weights were used.
      expect(step.gradNorm).not.toBe(full.gradNorm);
    } finally {
      await half.release();
    }
  });
});
