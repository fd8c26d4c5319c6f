// `qmd data` prints what the page import makes of every line: the same rows, formats, intents and
// rejections (src/data/reader.ts), one JSON line each, and exits 1 when a line was rejected.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../testing/cli.ts';
import { openLab } from '../data/db.ts';
import { importDataset } from '../data/import.ts';
import { describeRejection } from '../data/report.ts';
import { getRows } from '../data/store.ts';
import { main } from './data.ts';

const dir = mkdtempSync(join(tmpdir(), 'qmd-data-'));
afterAll(() => rmSync(dir, { recursive: true }));

const run = (args: string[]): Promise<CliRun> => runCli(main, args);

const COMPLETION = 'lex: auth config\nvec: how to configure authentication';
const LINES = [
  { query: 'ssh keys', output: [['vec', 'how to set up ssh keys'], ['lex', 'ssh keygen'], ['hyde', 'Run ssh-keygen.'], ['foo', 'x']], intent: 'server setup', category: 'tech' },
  { input: 'auth', output: COMPLETION },
  { messages: [{ role: 'user', content: '/no_think Expand this search query: cors\nQuery intent: browser errors' }, { role: 'assistant', content: COMPLETION }] },
  { prompt: 'Expand this search query:\ngit rebase', completion: COMPLETION },
  { text: `<|im_start|>user\n/no_think Expand this search query: tax<|im_end|>\n<|im_start|>assistant\n${COMPLETION}<|im_end|>\n` },
  { query: 'SSH Keys', output: [['lex', 'again']] },
  { query: 'q', output: [['lex', 'a'], ['foo']] },
  '{"query": "cut off',
  { query: 'empty', output: [['hyde', ' ']] },
].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));

describe('qmd data', () => {
  it('prints one line per row, in each row\'s format, with the same rows and rejections as the page import; exit 1', async () => {
    const path = join(dir, 'mixed.jsonl');
    writeFileSync(path, LINES.join('\n') + '\n\n');
    const { code, out, err } = await run([path]);
    expect(code).toBe(1);
    const printed = out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(printed).toEqual([
      {
        line: 1,
        format: 'structured',
        query: 'ssh keys',
        completion: 'hyde: Run ssh-keygen.\nlex: ssh keygen\nvec: how to set up ssh keys',
        intent: 'server setup',
        left_out: { count: 1, items: ['output[3][0]: expected "hyde", "lex" or "vec", got string "foo"'] },
      },
      { line: 2, format: 'input_output', query: 'auth', completion: COMPLETION },
      { line: 3, format: 'messages', query: 'cors', completion: COMPLETION, intent: 'browser errors' },
      { line: 4, format: 'prompt_completion', query: 'git rebase', completion: COMPLETION },
      { line: 5, format: 'text', query: 'tax', completion: COMPLETION },
      { line: 6, error: 'duplicate at query: the same query (ignoring case) as line 1' },
      { line: 7, error: 'wrong_type at output[1]: output[1]: expected a [type, text] pair, got an array' },
      { line: 8, error: expect.stringMatching(/^invalid_json: not valid JSON/) },
      { line: 9, error: 'empty_completion at output: output: no item is a hyde, lex or vec line with text (1 left out; output[0][1]: the hyde text is empty)' },
    ]);
    expect(err).toBe(`${path}: 5 rows accepted, 4 lines rejected (of 9)\n`);

    // The page import of the same bytes: the same rows and the same words for each rejection.
    const db = await openLab(`qmd-data-${Date.now()}`);
    const { meta, report } = await importDataset(db, new File([readFileSync(path)], 'mixed.jsonl'));
    const rows = (await getRows(db, meta.id)).rows;
    expect(printed.filter((p) => !('error' in p)).map(({ line, format, query, completion, intent }) => ({ line, format, query, completion, intent }))).toEqual(
      rows.map(({ line, format, query, completion, intent }) => ({ line, format, query, completion, intent })),
    );
    expect(printed.filter((p) => 'error' in p)).toEqual(report.rejections.map((r) => ({ line: r.line, error: describeRejection(r) })));
  });

  it('exits 0 when every line is accepted; 2 without exactly one FILE; names an unreadable path', async () => {
    const path = join(dir, 'clean.jsonl');
    writeFileSync(path, LINES.slice(1, 3).join('\n'));
    const clean = await run([path]);
    expect(clean.code).toBe(0);
    expect(clean.out.trimEnd().split('\n')).toHaveLength(2);
    expect((await run([])).code).toBe(2);
    expect((await run([path, path])).code).toBe(2);
    await expect(run([join(dir, 'absent.jsonl')])).rejects.toThrow(`${join(dir, 'absent.jsonl')}: cannot read the dataset: ENOENT`);
  });
});
