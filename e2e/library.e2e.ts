// Managing what the page stores: datasets dropped in, renamed, exported and reported on;
// uploaded query sets; stored results.
import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { encodeShare } from '../src/share/link.ts';
import { SHARE_VERSION } from '../src/share/payload.ts';

const QMD_PROMPT = 'Expand this search query: ';

/** Rows in three accepted formats, plus one blank line (skipped) and one broken line (rejected). */
const ROWS = [
  { input: 'docker compose networking', output: 'lex: docker compose network\nvec: how do containers talk in docker compose' },
  { messages: [{ role: 'user', content: `${QMD_PROMPT}sqlite wal mode` }, { role: 'assistant', content: 'lex: sqlite wal\nvec: what is write-ahead logging in sqlite' }] },
  { prompt: `${QMD_PROMPT}rotate api keys`, completion: 'lex: api key rotation\nvec: how to rotate api keys safely' },
  { input: 'rust lifetimes', output: 'lex: rust lifetime annotations\nvec: how do lifetimes work in rust' },
];
const JSONL = [...ROWS.slice(0, 2).map((r) => JSON.stringify(r)), '', '{"input": "broken', ...ROWS.slice(2).map((r) => JSON.stringify(r))].join('\n') + '\n';
const COMPLETIONS = new Map([
  ['docker compose networking', ROWS[0].output], ['sqlite wal mode', ROWS[1].messages![1].content],
  ['rotate api keys', ROWS[2].completion], ['rust lifetimes', ROWS[3].output],
]);

/** Drops a file on the drop zone the way a browser does: a real DataTransfer holding a File. */
async function dropFile(page: Page, name: string, text: string) {
  const dataTransfer = await page.evaluateHandle(({ name, text }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], name, { type: 'application/x-ndjson' }));
    return transfer;
  }, { name, text });
  const zone = page.getByTestId('drop-zone');
  await zone.dispatchEvent('dragover', { dataTransfer });
  await expect(zone).toHaveClass(/dragging/);
  await zone.dispatchEvent('drop', { dataTransfer });
  await expect(zone).not.toHaveClass(/dragging/);
}

/** Clicks `button`, waits for the download it starts, returns its file name and text. */
async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const started = page.waitForEvent('download');
  await click();
  const file = await started;
  return { name: file.suggestedFilename(), text: readFileSync((await file.path())!, 'utf8') };
}

test('a dropped file imports; the dataset renames (kept after a reload) and exports in both formats', async ({ page }) => {
  await page.goto('./#/datasets');
  await dropFile(page, 'dropped.jsonl', JSONL);
  await expect(page.getByTestId('report-rows')).toHaveText('4');
  await expect(page.getByTestId('report-rejected')).toHaveText('1');
  await expect(page.getByTestId('rejection-line')).toHaveText(['4']);
  const row = page.getByTestId('dataset-row');
  await expect(row.getByTestId('dataset-name')).toHaveText('dropped.jsonl');
  await expect(row.getByTestId('dataset-formats')).toHaveText('input/output 2, messages 1, prompt/completion 1');

  await row.getByTestId('rename').click();
  await expect(row.getByTestId('rename-input')).toBeFocused();
  await row.getByTestId('rename-input').fill('  Docker & friends v2 ');
  await page.keyboard.press('Enter');
  await expect(row.getByTestId('dataset-name')).toHaveText('Docker & friends v2');
  await page.reload();
  await expect(page.getByTestId('dataset-name')).toHaveText('Docker & friends v2');

  const messages = await download(page, () => page.getByTestId('export-dataset').click());
  expect(messages.name).toBe('docker-friends-v2-messages.jsonl');
  const messageLines = messages.text.split('\n');
  expect(messageLines.pop()).toBe('');
  expect(messageLines).toHaveLength(4);
  const first = JSON.parse(messageLines[0]) as { messages: { role: string; content: string }[] };
  expect(first.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  expect(first.messages[0].content).toContain(`${QMD_PROMPT}docker compose networking`);
  expect(first.messages[1].content).toBe(ROWS[0].output);

  await page.getByTestId('export-format').selectOption('input_output');
  const raw = await download(page, () => page.getByTestId('export-dataset').click());
  expect(raw.name).toBe('docker-friends-v2-input_output.jsonl');
  const pairs = raw.text.trimEnd().split('\n').map((line) => JSON.parse(line) as { input: string; output: string });
  expect(pairs.map((p) => p.input)).toEqual([...COMPLETIONS.keys()]);
  for (const pair of pairs) {
    expect(Object.keys(pair)).toEqual(['input', 'output']);
    expect(pair.output).toBe(COMPLETIONS.get(pair.input));
  }
});

test('the validation report downloads with exactly the rejected lines, as text and JSONL', async ({ page }) => {
  const good = (i: number) => JSON.stringify({ input: `query number ${i}`, output: `lex: query ${i}\nvec: what is query number ${i}` });
  const text = [good(1), '{"input": "cut off', good(2), JSON.stringify({ input: 'no output here' }), good(3), '[1, 2]'].join('\n');
  await page.goto('./#/datasets');
  await page.getByTestId('dataset-file').setInputFiles({ name: 'broken.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(text) });
  await expect(page.getByTestId('report-rejected')).toHaveText('3');

  const report = await download(page, () => page.getByTestId('report-download').click());
  expect(report.name).toBe('broken.jsonl-report.txt');
  const listed = report.text.split('\n').filter((line) => line.startsWith('line '));
  expect(listed.map((line) => Number(/^line (\d+):/.exec(line)![1]))).toEqual([2, 4, 6]);
  expect(listed[1]).toContain('output');
  expect(report.text.split('\n')[0]).toBe('broken.jsonl: 3 rows accepted, 3 lines rejected (of 6)');

  const jsonl = await download(page, () => page.getByTestId('report-download-jsonl').click());
  const [summary, ...rejections] = jsonl.text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(summary).toMatchObject({ summary: { source: 'broken.jsonl', rows: 3, rejected: 3 } });
  expect(rejections.map((r) => [r.line, r.kind])).toEqual([[2, 'invalid_json'], [4, 'missing_field'], [6, 'wrong_type']]);

  // The stored dataset keeps its report: the same download from its own page.
  await page.getByTestId('dataset-name').click();
  await page.getByText('Import report').click();
  const again = await download(page, () => page.getByTestId('report-download').click());
  expect(again.text).toBe(report.text);
});

test('an uploaded query set is listed with its count, survives a reload and can be deleted', async ({ page }) => {
  await page.goto('./#/datasets');
  const queries = ['docker compose networking', 'how to rotate api keys', 'sqlite wal mode'];
  await page.getByTestId('query-set-file').setInputFiles({ name: 'my queries.txt', mimeType: 'text/plain', buffer: Buffer.from(`\uFEFF${queries[0]}\r\n\n  ${queries[1]}  \n${queries[2]}\n\n`) });
  const set = page.getByTestId('stored-query-set');
  await expect(set).toHaveCount(1);
  await expect(set.getByTestId('query-set-name')).toHaveText('my queries');
  await expect(set.getByTestId('query-set-count')).toHaveText('3');
  await page.reload();
  await expect(set.getByTestId('query-set-count')).toHaveText('3');
  await set.locator('summary').click();
  await expect(set.getByRole('listitem')).toHaveText(queries);

  await page.getByTestId('query-set-file').setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.from('\n  \n') });
  await expect(page.getByTestId('query-set-error')).toContainText('empty.txt: no queries found');
  await expect(set).toHaveCount(1);

  await set.getByTestId('delete-query-set').click();
  await set.getByTestId('delete-query-set-yes').click();
  await expect(set).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('builtin-query-set')).toHaveCount(1);
  await expect(page.getByTestId('stored-query-set')).toHaveCount(0);
});

test('a stored result can be deleted from the list and from its own page, and stays deleted', async ({ page }) => {
  const link = (name: string) => `./#/share/${encodeShare({
    v: SHARE_VERSION, model: { base: 'Qwen/Qwen3-0.6B', adapter: null }, profile: 'eval', settings: null, name,
    pairs: [{ query: 'sqlite wal mode', expansion: 'lex: sqlite wal\nvec: what is write-ahead logging in sqlite' }],
  })}`;
  for (const name of ['first run', 'second run']) {
    await page.goto(link(name));
    await page.getByTestId('save-shared').click();
    await expect(page.getByTestId('share-saved')).toBeVisible();
  }
  await page.goto('./#/results');
  const rows = page.getByTestId('result-row');
  await expect(rows).toHaveCount(2);
  const first = rows.filter({ hasText: 'first run' });
  await first.getByTestId('delete-result-row').click();
  await first.getByTestId('delete-result-row-yes').click();
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('second run');

  await rows.getByRole('link', { name: 'second run' }).click();
  await page.getByTestId('delete-result').click();
  await page.getByTestId('delete-result-yes').click();
  await expect(page).toHaveURL(/#\/results$/);
  await expect(page.getByTestId('results-empty')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('results-empty')).toBeVisible();
});
