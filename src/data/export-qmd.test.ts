import { describe, expect, it } from 'vitest';
import { promptFormat } from '../model/prompt.ts';
import fixture from './export-qmd.fixture.json';
import { exportQmdTrainData, pythonJson, pythonRound1, structuredOutput, type QmdExportRow } from './export-qmd.ts';
import { parseRow } from './rows.ts';

/** The fixture's rows as the page holds them after import (src/data/rows.ts), line numbers from 1. */
const imported = (rows: readonly unknown[]): QmdExportRow[] =>
  rows.map((value, i) => {
    const row = parseRow(JSON.stringify(value));
    if (!row.ok) throw new Error(`fixture row ${i + 1}: ${row.reason}`);
    return { query: row.query, completion: row.completion, intent: row.intent, output: structuredOutput(row.original), line: i + 1 };
  });

describe('exportQmdTrainData', () => {
  it("writes data/train/ byte for byte as QMD's prepare_data.py does (its own run: scripts/reference/qmd_prepare_data.py)", () => {
    const result = exportQmdTrainData(imported(fixture.rows));
    expect(result.files.map((f) => f.name)).toEqual(['train.jsonl', 'val.jsonl', 'train_chat.jsonl', 'dataset_info.json']);
    for (const file of result.files) expect(file.text, file.name).toBe(fixture.files[file.name]);
    expect(result).toMatchObject({ train: 9, val: 1, duplicates: 1, empty: [], droppedLines: 0 });
  });

  it('reads pairs back from the completion of a row of another shape, counting the lines that are none', () => {
    const rows: QmdExportRow[] = [
      { query: 'a b c', completion: 'lex: one\nnote: not a pair\nvec:   \nhyde: first', line: 1 },
      { query: 'only prose', completion: 'just text', line: 2 },
      { query: ' A B C ', completion: 'lex: repeat', line: 3 },
    ];
    const result = exportQmdTrainData(rows, { split: 0 });
    expect(result).toMatchObject({ train: 1, val: 0, duplicates: 1, empty: [2], droppedLines: 3 });
    const [train] = result.files;
    expect(JSON.parse(train!.text)).toEqual({
      query: 'a b c',
      output: [['lex', 'one'], ['hyde', 'first']],
      text: '<|im_start|>user\n/no_think Expand this search query: a b c<|im_end|>\n<|im_start|>assistant\nhyde: first\nlex: one<|im_end|>\n',
      messages: [
        { role: 'user', content: '/no_think Expand this search query: a b c' },
        { role: 'assistant', content: 'hyde: first\nlex: one' },
      ],
    });
    expect(() => exportQmdTrainData([rows[1]!])).toThrow('exportQmdTrainData: no row has a lex:, vec: or hyde: line to write');
  });

  it('renders the user turn in the chosen prompt format', () => {
    const result = exportQmdTrainData([{ query: 'git', completion: 'lex: git' }], { format: promptFormat('qmd-1.7b'), split: 0 });
    expect(JSON.parse(result.files[0]!.text).messages[0].content).toBe('Expand this search query:\ngit');
  });
});

describe("Python's json and round, as prepare_data.py writes them", () => {
  it("escapes every non-ASCII unit, control and DEL as json.dumps does, with its separators", () => {
    expect(pythonJson({ a: ['é', '🎉', '\u007f\u0001"\\\n'], b: [] })).toBe('{"a": ["\\u00e9", "\\ud83c\\udf89", "\\u007f\\u0001\\"\\\\\\n"], "b": []}');
    expect(() => pythonJson(0.5)).toThrow('pythonJson: 0.5 is not a whole number');
  });

  it('rounds ties to even on the exact value and keeps ".0"', () => {
    expect([50, 15.5, 12.25, 12.75, 0, 100 / 3, 0.05, 99.95].map(pythonRound1)).toEqual(['50.0', '15.5', '12.2', '12.8', '0.0', '33.3', '0.1', '100.0']);
  });
});
