// Writes what scripts/reference/grpo_step.py runs TRL's GRPOTrainer on: a seeded tiny Qwen3, an SFT
// adapter (merged into the base for the reference policy), the policy adapter being trained (B ≠ 0, so
// the KL term is not zero), the dry-step batch and its token ids as our tokenizer makes them. The
// fixture the script prints is checked by src/engine/grpo-trl.test.ts, which rebuilds the same files.
//   npx tsx scripts/make-grpo-reference.ts OUT_DIR
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { saveAdapter } from '../src/engine/model-dir.ts';
import { loadBundledTokenizer } from '../src/engine/tokenizer-node.ts';
import { newAdapter } from '../src/model/peft.ts';
import { makeTinyModel } from './make-tiny-model.ts';

export const GRPO_REFERENCE = {
  model: { seed: 23, untied: true },
  sft: { rank: 4, alpha: 8 },
  policy: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] as const, seed: 29, bStd: 0.05 },
  batch: {
    prompts: ['auth config', 'how to rebase in git'],
    completions: [
      ['lex: auth config\nvec: how to configure authentication', 'hello', 'lex: auth', 'vec: authentication setup\nhyde: Set AUTH_MODE in the config file.'],
      ['lex: git rebase', 'rebase', 'vec: how to rebase a branch onto main', 'lex: rebase onto main\nlex: git rebase -i\nvec: interactive rebase'],
    ],
    rewards: [
      [1, 0, 0.5, 0.75],
      [0.25, 0, 1, 1],
    ],
  },
  /** The settings every case shares; max_completion_length cuts the longest completions. */
  grpo: { num_generations: 4, max_completion_length: 12, beta: 0.04, temperature: 0.7, mask_truncated_completions: false, max_steps: 1 },
  /** Rows per micro-batch: 8 completions are 4 micro-batches, one accumulation window. */
  microBatch: 2,
  cases: [
    { loss_type: 'dapo', scale_rewards: 'group', use_bias_correction_kl: true },
    { loss_type: 'grpo', scale_rewards: 'group', use_bias_correction_kl: true },
    { loss_type: 'bnpo', scale_rewards: 'batch', use_bias_correction_kl: true },
    { loss_type: 'dr_grpo', scale_rewards: 'none', use_bias_correction_kl: false },
  ],
} as const;

export const REFERENCE_FILE = 'reference.json';

/** OUT_DIR/model, OUT_DIR/sft, OUT_DIR/policy (PEFT folders) and OUT_DIR/reference.json (batch, token ids, settings). */
export async function writeGrpoReference(dir: string) {
  const made = await makeTinyModel(join(dir, 'model'), { ...GRPO_REFERENCE.model, adapter: { dir: join(dir, 'sft'), ...GRPO_REFERENCE.sft } });
  const { r, alpha, targets, seed, bStd } = GRPO_REFERENCE.policy;
  const policy = newAdapter(made.config, { r, alpha, targets: [...targets], seed, bStd });
  await saveAdapter(join(dir, 'policy'), policy, made.config);
  const tokenizer = await loadBundledTokenizer();
  const { prompts, completions } = GRPO_REFERENCE.batch;
  const ids = prompts.flatMap((query, p) =>
    completions[p]!.map((completion) => {
      const example = tokenizer.example(query, completion);
      const start = example.completionMask.indexOf(1);
      return { prompt: example.ids.slice(0, start), completion: example.ids.slice(start) };
    }),
  );
  await writeFile(join(dir, REFERENCE_FILE), JSON.stringify({ ...GRPO_REFERENCE, ids }, null, 2) + '\n');
  return { config: made.config };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: make-grpo-reference.ts OUT_DIR');
  await writeGrpoReference(dir);
  console.log(`wrote ${dir}/model, ${dir}/sft, ${dir}/policy and ${dir}/${REFERENCE_FILE}`);
}
