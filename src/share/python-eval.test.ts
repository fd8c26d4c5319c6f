import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedFile } from '../testing/shared.ts';
import { describeDisagreement, exportPythonEval, importPythonEval, PythonEvalError } from './python-eval.ts';
import { formatPercentage, summarizeResult } from './summary.ts';

const v4Path = sharedFile('data/evaluation_v4.json');
const grpoPath = sharedFile('data/evaluation_v4_grpo.json');
const v4Text = v4Path ? readFileSync(v4Path, 'utf8') : '';
const grpoText = grpoPath ? readFileSync(grpoPath, 'utf8') : '';

describe.skipIf(!v4Path || !grpoPath)('Python eval files', () => {
  it.each([
    ['evaluation_v4.json', '98.8 %', () => v4Text],
    ['evaluation_v4_grpo.json', '0.0 %', () => grpoText],
  ])('imports %s: average %s, every stored score agrees with ours', async (fileName, average, text) => {
    const { result, disagreements } = await importPythonEval(text(), fileName);
    const summary = summarizeResult(result);
    console.log(`${fileName}: ${summary.count} queries, eval ${formatPercentage(summary.evalPercentage)}, reward ${summary.reward?.toFixed(3)}`);
    for (const d of disagreements) console.log(describeDisagreement(d));
    expect(formatPercentage(summary.evalPercentage)).toBe(average);
    expect(disagreements).toEqual([]);
    expect(result).toMatchObject({ name: fileName.replace('.json', ''), origin: 'import', profile: 'eval', model: { base: fileName, adapter: null } });
    const original = JSON.parse(text());
    expect(result.items.map((i) => [i.query, i.expansion])).toEqual(original.map((o: { query: string; expansion: string }) => [o.query, o.expansion]));
  });

  it('reports each field where the file disagrees with the recomputed scores', async () => {
    const file = JSON.parse(v4Text);
    file[3].scores.total += 1;
    file[3].scores.rating = 'Good';
    file[7].parsed.vec = [...file[7].parsed.vec, 'a forged line'];
    delete file[12].scores.is_continuation;
    file[12].scores.bonus = 5;
    const { disagreements } = await importPythonEval(JSON.stringify(file), 'mutated.json');
    const original = JSON.parse(v4Text);
    expect(disagreements).toEqual([
      { index: 3, query: original[3].query, field: 'scores.total', stored: original[3].scores.total + 1, recomputed: original[3].scores.total },
      { index: 3, query: original[3].query, field: 'scores.rating', stored: 'Good', recomputed: 'Excellent' },
      { index: 7, query: original[7].query, field: 'parsed.vec', stored: file[7].parsed.vec, recomputed: original[7].parsed.vec },
      { index: 12, query: original[12].query, field: 'scores.bonus', stored: 5, recomputed: undefined },
      { index: 12, query: original[12].query, field: 'scores.is_continuation', stored: undefined, recomputed: false },
    ]);
    expect(describeDisagreement(disagreements[0])).toBe(
      `item 3 (${JSON.stringify(original[3].query)}): scores.total: file has ${original[3].scores.total + 1}, recomputed ${original[3].scores.total}`,
    );
  });

  it('reports a changed expansion as changed scores', async () => {
    const file = JSON.parse(v4Text);
    file[0].expansion = file[0].expansion.replace(/^lex: .*$/m, 'Sure, here you go');
    const { disagreements } = await importPythonEval(JSON.stringify(file), 'edited.json');
    expect(disagreements.every((d) => d.index === 0)).toBe(true);
    expect(disagreements.map((d) => d.field)).toEqual(expect.arrayContaining(['scores.percentage', 'scores.is_continuation', 'parsed.invalid']));
  });

  it.each([
    ['evaluation_v4.json', () => v4Text],
    ['evaluation_v4_grpo.json', () => grpoText],
  ])('exports %s back to the same JSON, which imports without disagreement', async (fileName, text) => {
    const { result } = await importPythonEval(text(), fileName);
    const exported = exportPythonEval(result);
    expect(JSON.parse(exported)).toEqual(JSON.parse(text()));
    expect((await importPythonEval(exported, fileName)).disagreements).toEqual([]);
  });

  it('writes the keys in the order of the Python script', async () => {
    const exported = JSON.parse(exportPythonEval((await importPythonEval(v4Text, 'evaluation_v4.json')).result));
    const original = JSON.parse(v4Text);
    expect(Object.keys(exported[0])).toEqual(Object.keys(original[0]));
    expect(Object.keys(exported[0].scores)).toEqual(Object.keys(original[0].scores));
    expect(Object.keys(exported[0].parsed)).toEqual(Object.keys(original[0].parsed));
  });
});

describe('Python eval file validation', () => {
  const reject = (text: string) => expect(importPythonEval(text, 'results.json')).rejects;
  it('names the file, the item, the field and what was expected', async () => {
    await reject('{"query": ').toThrow(PythonEvalError);
    await reject('{"query": ').toThrow(/^results\.json: not valid JSON/);
    await reject('{"query": "q"}').toThrow('results.json: expected a non-empty JSON list of {query, expansion, scores, parsed}, got an object');
    await reject('[]').toThrow(/expected a non-empty JSON list/);
    await reject('[{"query": "a", "expansion": "lex: a"}, 7]').toThrow('results.json: item 1: expected an object {query, expansion, scores, parsed}, got number 7');
    await reject('[{"query": "a", "expansion": null}]').toThrow('results.json: item 0: field "expansion": expected a string, got null');
    await reject('[{"expansion": "lex: a"}]').toThrow('results.json: item 0: field "query": expected a string, got nothing (field missing)');
    await reject('[{"query": "a", "expansion": "lex: a", "scores": [1]}]').toThrow('results.json: item 0: field "scores": expected an object, got a list');
    await reject('[{"query": "a", "expansion": "lex: a", "parsed": "x"}]').toThrow('results.json: item 0: field "parsed": expected an object, got string "x"');
  });

  it('accepts items without stored scores (nothing to compare)', async () => {
    const { result, disagreements } = await importPythonEval('[{"query": "rust", "expansion": "lex: rust\\nvec: rust programming language"}]', 'bare.json');
    expect(disagreements).toEqual([]);
    expect(result.items[0].eval.parsed.lex).toEqual(['rust']);
  });
});
