// `qmd expand --model DIR [--adapter DIR] [--greedy | --temperature T --seed S] [--top-k K]
//  [--top-p P] [--max-new-tokens N] [--format qmd-v4|qmd-1.7b] QUERY`: prints the expansion.
import { parseArgs } from 'node:util';
import { QMD_1_7B_PROMPT, QMD_V4_PROMPT } from '../data/prompt.ts';
import { expand } from '../engine/generate.ts';
import { loadAdapter, loadCheckpoint, loadModelTokenizer } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { defaultSampling, validateSampling } from '../engine/sampling.ts';
import { Qwen3Session } from '../engine/session.ts';

const USAGE =
  'usage: qmd expand --model DIR [--adapter DIR] [--greedy | --temperature T --seed S] [--top-k K] [--top-p P] [--max-new-tokens N] [--format qmd-v4|qmd-1.7b] QUERY\n';
const formats = { [QMD_V4_PROMPT.id]: QMD_V4_PROMPT, [QMD_1_7B_PROMPT.id]: QMD_1_7B_PROMPT };

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
      format: { type: 'string', default: QMD_V4_PROMPT.id },
    },
  });
  const query = positionals.join(' ').trim();
  const format = formats[values.format];
  if (!values.model || !query || !format) {
    process.stderr.write(USAGE);
    return 2;
  }
  const sampling = validateSampling({
    ...defaultSampling,
    greedy: values.greedy,
    temperature: Number(values.temperature),
    seed: Number(values.seed),
    topK: Number(values['top-k']),
    topP: Number(values['top-p']),
    maxNewTokens: Number(values['max-new-tokens']),
  });
  const { config, weights } = await loadCheckpoint(values.model);
  const tokenizer = await loadModelTokenizer(values.model);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  if (values.adapter) await session.setAdapter(await loadAdapter(values.adapter, config));
  const expansion = await expand(session, tokenizer, query, sampling, format);
  await session.release();
  process.stdout.write(expansion.text + '\n');
  return 0;
}
