// Writes the seeded tiny Qwen3, its PEFT adapter (our writer, the page's and the CLI's export) and the prompt
// token ids that scripts/reference/peft_logits.py loads with transformers + PEFT; the fixture it prints is
// checked against our graph by src/model/peft-logits.test.ts, which rebuilds the same files from the same seeds.
//   npx tsx scripts/make-peft-reference.ts OUT_DIR
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadBundledTokenizer } from '../src/engine/tokenizer-node.ts';
import { makeTinyModel } from './make-tiny-model.ts';

/** Untied head, GQA 3:1 and heads·head_dim ≠ hidden: the shapes where a transposed or misnamed matrix shows. */
export const PEFT_REFERENCE = {
  model: { seed: 61, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96, untied: true },
  adapter: { rank: 4, alpha: 8 },
  queries: ['auth config', 'how to rebase in git', 'Café 2024 TDS'],
  /** Logits are compared at the last this-many positions of each prompt. */
  positions: 3,
} as const;

export const PROMPTS_FILE = 'prompts.json';

/** OUT_DIR/model (config.json, model.safetensors, tokenizer), OUT_DIR/adapter (PEFT files), OUT_DIR/prompts.json. */
export async function writePeftReference(dir: string) {
  const made = await makeTinyModel(join(dir, 'model'), { ...PEFT_REFERENCE.model, adapter: { dir: join(dir, 'adapter'), ...PEFT_REFERENCE.adapter } });
  const tokenizer = await loadBundledTokenizer();
  const prompts = PEFT_REFERENCE.queries.map((query) => ({ query, ids: tokenizer.promptIds(query) }));
  await writeFile(join(dir, PROMPTS_FILE), JSON.stringify({ positions: PEFT_REFERENCE.positions, prompts }, null, 2) + '\n');
  return { ...made, adapter: made.adapter!, prompts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: make-peft-reference.ts OUT_DIR');
  await writePeftReference(dir);
  console.log(`wrote ${dir}/model, ${dir}/adapter and ${dir}/${PROMPTS_FILE}`);
}
