// Hostile Python eval files: keys that are Object.prototype names compare like any other key,
// nesting and sizes beyond the limits are refused naming the file and the item, and what a
// disagreement quotes stays short.
import { describe, expect, it } from 'vitest';
import { MAX_EXPANSION_CHARS } from '../scoring/index.ts';
import { describeDisagreement, exportPythonEval, importPythonEval } from './python-eval.ts';

const PAIRS = [
  { query: 'docker compose', expansion: 'lex: docker compose\nvec: how to use docker compose\nhyde: Docker Compose runs multi-container apps.' },
  { query: 'rust', expansion: 'lex: rust\nvec: rust programming language' },
];
/** A file as the Python script writes it, with our own scores (so nothing disagrees). */
const validItems = async () => JSON.parse(exportPythonEval((await importPythonEval(JSON.stringify(PAIRS), 'seed.json')).result)) as Record<string, Record<string, unknown>>[];

describe('Python eval import of hostile files', () => {
  it('compares __proto__, constructor and toString inside scores as plain keys', async () => {
    const items = await validItems();
    // Written as text: an object literal's __proto__ would set the prototype, JSON.parse makes a key.
    const text = JSON.stringify(items).replace('"scores":{', '"scores":{"__proto__":{"total":1},"constructor":7,"toString":"x",');
    const { disagreements } = await importPythonEval(text, 'proto.json');
    expect(disagreements).toEqual([
      { index: 0, query: 'docker compose', field: 'scores.__proto__', stored: { total: 1 }, recomputed: undefined },
      { index: 0, query: 'docker compose', field: 'scores.constructor', stored: 7, recomputed: undefined },
      { index: 0, query: 'docker compose', field: 'scores.toString', stored: 'x', recomputed: undefined },
    ]);
    expect(describeDisagreement(disagreements[0])).toBe('item 0 ("docker compose"): scores.__proto__: file has {"total":1}, recomputed (absent)');
  });

  it('a key named after an Object.prototype method in parsed is absent from ours, not a function', async () => {
    const items = await validItems();
    const text = JSON.stringify(items).replace('"parsed":{', '"parsed":{"hasOwnProperty":null,');
    const { disagreements } = await importPythonEval(text, 'proto.json');
    expect(disagreements).toEqual([{ index: 0, query: 'docker compose', field: 'parsed.hasOwnProperty', stored: null, recomputed: undefined }]);
  });

  it('sets aside a stored score nested 10,000 deep, naming the item, and imports and compares the rest', async () => {
    const items = await validItems();
    const text = JSON.stringify(items).replace(/"total":\d+/g, (match, offset: number) =>
      offset > JSON.stringify(items[0]).length ? `"total":${'['.repeat(10_000)}${']'.repeat(10_000)}` : match,
    );
    const { result, disagreements, uncompared } = await importPythonEval(text, 'deep.json');
    expect(uncompared).toEqual([{ index: 1, reason: 'stored "scores" nests deeper than 64 levels: not compared' }]);
    expect(result.items).toHaveLength(items.length);
    expect(result.items[1]!.eval.percentage).toBe(items[1]!.scores!.percentage);
    expect(disagreements).toEqual([]);
    // One level under the limit is compared as usual (and disagrees: a list is not a number).
    const shallow = JSON.stringify(items).replace(/"total":\d+/, `"total":${'['.repeat(50)}${']'.repeat(50)}`);
    const compared = await importPythonEval(shallow, 'shallow.json');
    expect(compared.uncompared).toEqual([]);
    expect(compared.disagreements.map((d) => [d.index, d.field])).toEqual([[0, 'scores.total']]);
  });

  it('refuses an expansion beyond the scorers\' limit, naming the item', async () => {
    const pairs = [PAIRS[0], { query: 'q', expansion: 'lex: a\n'.repeat(MAX_EXPANSION_CHARS / 4) }];
    await expect(importPythonEval(JSON.stringify(pairs), 'big.json')).rejects.toThrow(
      /^big\.json: item 1: expansion is 57,344 characters; the scorers accept at most 32,768$/,
    );
  });

  it('quotes at most 200 characters of a stored value, the query and the field', async () => {
    const items = await validItems();
    items[1].scores.rating = 'x'.repeat(1_000_000);
    items[1].scores['y'.repeat(10_000)] = 1;
    const { disagreements } = await importPythonEval(JSON.stringify(items), 'long.json');
    expect(disagreements.map((d) => d.field.length)).toEqual([13, 10_007]);
    for (const d of disagreements) expect(describeDisagreement(d).length).toBeLessThan(600);
  });
});
