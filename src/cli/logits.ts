// `qmd logits --model DIR [--adapter DIR] --prompt TEXT [--top K]`: one JSON line
// {"input_ids": [...], "top": [[id, logit], ...]} for the position after the prompt.
// The prompt is tokenized as written (no chat template), so any model can be probed.
import { parseArgs } from 'node:util';
import { firstNonFinite } from '../model/dtype.ts';
import { loadAdapter, loadModelTokenizer, loadSession } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';

const USAGE = 'usage: qmd logits --model DIR [--adapter DIR] --prompt TEXT [--top K]\n';

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { model: { type: 'string' }, adapter: { type: 'string' }, prompt: { type: 'string' }, top: { type: 'string', default: '10' } } });
  const top = Number(values.top);
  if (!values.model || values.prompt === undefined || !Number.isInteger(top) || top < 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  // Streamed, and only the one prefill graph this command runs is built (graphs: 'lazy').
  const session = await loadSession(values.model, nodeRuntime, { graphs: 'lazy' });
  const tokenizer = await loadModelTokenizer(values.model);
  const ids = tokenizer.encode(values.prompt);
  if (ids.length === 0) throw new Error('--prompt: tokenizes to no tokens');
  if (values.adapter) await session.setAdapter(await loadAdapter(values.adapter, session.config));
  const logits = await session.forward(ids);
  await session.release();
  const bad = firstNonFinite(logits);
  if (bad >= 0) {
    const count = logits.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
    throw new Error(`the logits are not finite (${count} of ${logits.length}; token ${bad} is ${logits[bad]}): the weights${values.adapter ? ' or the adapter' : ''} overflow float32`);
  }
  const best = Array.from(logits.keys())
    .sort((a, b) => logits[b]! - logits[a]!)
    .slice(0, top)
    .map((id) => [id, logits[id]!]);
  process.stdout.write(JSON.stringify({ input_ids: ids, top: best }) + '\n');
  return 0;
}
