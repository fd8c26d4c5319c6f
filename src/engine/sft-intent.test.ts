// A structured row's intent travels from the import to the tokens training sees: stored with the
// row, carried in TrainRow, and rendered into the user turn by the run's prompt format.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainingRows } from '../app/train-run.ts';
import { openLab } from '../data/db.ts';
import { importDataset } from '../data/import.ts';
import { sftExamples } from './sft.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import type { Qwen3Tokenizer } from './tokenizer.ts';
import { parseTrainConfig } from './train-config.ts';

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const ROWS = [
  { query: 'ssh keys', output: [['lex', 'ssh keygen'], ['hyde', 'Run ssh-keygen.']], intent: 'server setup' },
  { query: 'cors', output: [['vec', 'why does the browser block my request']] },
];

let tokenizer: Qwen3Tokenizer;
beforeAll(async () => {
  tokenizer = await loadBundledTokenizer();
});

describe('intent in training', () => {
  it('renders a stored row\'s intent in the prompt format of the training settings', async () => {
    const db = await openLab(`sft-intent-${Date.now()}`);
    const { meta } = await importDataset(db, new Blob([ROWS.map((r) => JSON.stringify(r)).join('\n')]));
    const { train } = await trainingRows(db, meta.id, { ratio: 0, seed: 1 });
    expect(train).toEqual([
      { query: 'ssh keys', completion: 'hyde: Run ssh-keygen.\nlex: ssh keygen', intent: 'server setup', line: 1 },
      { query: 'cors', completion: 'vec: why does the browser block my request', line: 2 },
    ]);
    const prompts = (promptFormat: string) =>
      sftExamples(train, tokenizer, { ...sft, promptFormat }).examples.map((e) => tokenizer.decode(e.ids.slice(0, e.completionMask.indexOf(1)), false));
    expect(prompts('qmd-v4')).toEqual([
      '<|im_start|>user\n/no_think Expand this search query: ssh keys\nQuery intent: server setup<|im_end|>\n<|im_start|>assistant\n',
      '<|im_start|>user\n/no_think Expand this search query: cors<|im_end|>\n<|im_start|>assistant\n',
    ]);
    expect(prompts('qmd-1.7b')[0]).toBe('<|im_start|>user\nExpand this search query:\nssh keys\nQuery intent: server setup<|im_end|>\n<|im_start|>assistant\n');
    expect(() => prompts('qmd-v9')).toThrow('the training settings (prompt_format): unknown prompt format "qmd-v9"; known: qmd-v4, qmd-1.7b');
  });
});
