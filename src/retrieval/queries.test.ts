import { describe, expect, it } from 'vitest';
import { parseExpansions, parseQueries } from './queries.ts';

describe('parseQueries', () => {
  it('reads QMD’s fixture format, skipping blank lines, keeping line numbers and optional fields', () => {
    const text = '\uFEFF{"query": "API versioning", "expected_doc": "api-design", "difficulty": "easy"}\r\n\n{"query": "vague", "expected_doc": "remote-work", "intent": "policies", "notes": "x"}\n';
    expect(parseQueries(text, 'q.jsonl')).toEqual([
      { query: 'API versioning', expected: 'api-design', difficulty: 'easy', intent: null, line: 1 },
      { query: 'vague', expected: 'remote-work', difficulty: null, intent: 'policies', line: 3 },
    ]);
  });

  const errors: [string, string][] = [
    ['{"query": "a"}', 'q.jsonl:1: field "expected_doc": expected a string, got nothing (field missing)'],
    ['\n{"query": 3, "expected_doc": "x"}', 'q.jsonl:2: field "query": expected a string, got a number'],
    ['{"query": "  ", "expected_doc": "x"}', 'q.jsonl:1: field "query": expected a non-empty string'],
    ['{"query": "a", "expected_doc": ["x"]}', 'q.jsonl:1: field "expected_doc": expected a string, got an array'],
    ['{"query": "a", "expected_doc": "x", "difficulty": 1}', 'q.jsonl:1: field "difficulty": expected a string, got a number'],
    ['{"query": "a", "expected_doc": "x"}\n{"query": "a",', 'q.jsonl:2: not JSON'],
    ['["a", "b"]', 'q.jsonl:1: expected a JSON object'],
    ['', 'q.jsonl: no queries'],
    [`{"query": "${'q'.repeat(2001)}", "expected_doc": "x"}`, 'q.jsonl:1: field "query": 2,001 characters; at most 2,000'],
  ];
  it.each(errors)('refuses %j with a line-numbered message', (text, message) => {
    expect(() => parseQueries(text, 'q.jsonl')).toThrow(message);
  });
});

describe('parseExpansions', () => {
  it('reads expansion text, or QMD’s structured output rendered as lines', () => {
    const text = '{"query": "a", "expansion": "lex: a b"}\n{"query": "c", "output": [["hyde", "c is"], ["lex", "c d"]]}';
    expect([...parseExpansions(text, 'e.jsonl')]).toEqual([
      ['a', 'lex: a b'],
      ['c', 'hyde: c is\nlex: c d'],
    ]);
  });

  it('refuses a second expansion of one query, naming both lines, and malformed output pairs', () => {
    expect(() => parseExpansions('{"query": "a", "expansion": "x"}\n{"query": "a", "expansion": "y"}', 'e.jsonl')).toThrow(
      'e.jsonl:2: query "a" already has an expansion on line 1',
    );
    expect(() => parseExpansions('{"query": "a", "output": [["lex", "x"], ["sql", "y"]]}', 'e.jsonl')).toThrow(
      'e.jsonl:1: field "output"[1]: expected ["lex"|"vec"|"hyde", text]',
    );
    expect(() => parseExpansions('{"query": "a"}', 'e.jsonl')).toThrow('e.jsonl:1: field "expansion": expected a string, got nothing (field missing)');
  });
});
