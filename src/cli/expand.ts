// `qmd expand --model DIR [--adapter DIR] [--greedy | --temperature T --seed S] [--top-k K]
//  [--top-p P] [--max-new-tokens N] [--format qmd-v4|qmd-1.7b] [--intent TEXT] QUERY`: prints the expansion.
import { parseArgs } from 'node:util';
import { DEFAULT_PROMPT_FORMAT, PROMPT_FORMAT_IDS, promptFormat } from '../model/prompt.ts';
import { expand } from '../engine/generate.ts';
import { loadAdapter, loadModelTokenizer, loadSession } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { defaultSampling, validateSampling } from '../engine/sampling.ts';

const USAGE =
  `usage: qmd expand --model DIR [--adapter DIR] [--greedy | --temperature T --seed S] [--top-k K] [--top-p P] [--max-new-tokens N] [--format ${PROMPT_FORMAT_IDS.join('|')}] [--intent TEXT] QUERY\n`;

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string' },
      greedy: { type: 'boolean', default: false },
      temperature: { type: 'string', default: String(defaultSampling.temperature) },
      seed: { type: 'string', default: String(defaultSampling.seed) },
      'top-k': { type: 'string', default: String(defaultSampling.topK) },
      'top-p': { type: 'string', default: String(defaultSampling.topP) },
      'max-new-tokens': { type: 'string', default: String(defaultSampling.maxNewTokens) },
      format: { type: 'string', default: DEFAULT_PROMPT_FORMAT.id },
      intent: { type: 'string' },
    },
  });
  const query = positionals.join(' ').trim();
  if (!values.model || !query) {
    process.stderr.write(USAGE);
    return 2;
  }
  const format = promptFormat(values.format, '--format');
  const sampling = validateSampling({
    ...defaultSampling,
    greedy: values.greedy,
    temperature: Number(values.temperature),
    seed: Number(values.seed),
    topK: Number(values['top-k']),
    topP: Number(values['top-p']),
    maxNewTokens: Number(values['max-new-tokens']),
  });
  // Streamed; graphs built as first run, so a run with an adapter never builds the base model's.
  const session = await loadSession(values.model, nodeRuntime, { graphs: 'lazy' });
  const tokenizer = await loadModelTokenizer(values.model);
  if (values.adapter) await session.setAdapter(await loadAdapter(values.adapter, session.config));
  const expansion = await expand(session, tokenizer, query, sampling, format, values.intent);
  await session.release();
  process.stdout.write(expansion.text + '\n');
  return 0;
}
