import { describe, expect, it } from 'vitest';
import { excessNesting, JsonNestingError, MAX_JSON_DEPTH, nestsDeeper, parseBoundedJson } from './json-depth.ts';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('excessNesting', () => {
  it('accepts the limit and stops at the first bracket beyond it', () => {
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(excessNesting(nested(64))).toBeUndefined();
    expect(excessNesting(nested(65))).toEqual({ at: 64, entry: 0 });
    // 10,000 deep: the scan returns at position 64 — the work is bounded by the limit, not the text.
    expect(excessNesting(nested(10_000))).toEqual({ at: 64, entry: 0 });
    expect(excessNesting('{"a":'.repeat(100) + '1' + '}'.repeat(100))).toEqual({ at: 5 * 64, entry: 0 });
  });

  it('counts arrays and objects together, and depth, not brackets in total', () => {
    expect(excessNesting('[{"a":[{}]}]', 3)).toEqual({ at: 7, entry: 0 });
    expect(excessNesting(Array.from({ length: 1000 }, () => nested(3)).join(','), 3)).toBeUndefined();
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(excessNesting(`["${'['.repeat(100)}", "\\"${'{'.repeat(100)}"]`, 2)).toBeUndefined();
    expect(excessNesting(`["\\\\", [[1]]]`, 2)).toEqual({ at: 8, entry: 1 });
    // An escaped backslash then an escaped quote: the string goes on past both.
    expect(excessNesting(String.raw`["\\\"[[[[", 1]`, 1)).toBeUndefined();
    expect(excessNesting(String.raw`["\\", [1]]`, 1)).toEqual({ at: 7, entry: 1 });
  });

  it('names the entry of the outermost list that holds the excess', () => {
    expect(excessNesting(`[{"a": "x,y"}, [1, 2], ${nested(5)}]`, 4)?.entry).toBe(2);
  });

  it('never reads past the end of broken text', () => {
    expect(excessNesting('["unterminated [[[[[[', 2)).toBeUndefined();
    expect(excessNesting(']]]]', 2)).toBeUndefined();
    expect(excessNesting('"\\', 2)).toBeUndefined();
  });
});

describe('parseBoundedJson', () => {
  it('parses what JSON.parse parses within the limit', () => {
    expect(parseBoundedJson('{"a": [1, {"b": "[[["}]}')).toEqual({ a: [1, { b: '[[[' }] });
    expect(() => parseBoundedJson('{"a": ')).toThrow(SyntaxError);
  });

  it('throws JsonNestingError naming the limit before JSON.parse', () => {
    const text = `{"query": "q", "x": ${nested(10_000)}}`;
    let error: unknown;
    try {
      parseBoundedJson(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(JsonNestingError);
    expect((error as JsonNestingError).message).toBe('arrays and objects nest deeper than 64 levels (at position 83); the limit is 64');
    expect((error as JsonNestingError).entry).toBe(1);
  });
});

describe('nestsDeeper (parsed values)', () => {
  it('agrees with the text check at the limit, and walks 100,000 levels without recursing', () => {
    const nested = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n));
    expect(nestsDeeper(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsDeeper(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(nestsDeeper({ a: [1, { b: 'x' }] }, 3)).toBe(false);
    expect(nestsDeeper({ a: [1, { b: [] }] }, 3)).toBe(true);
    expect(nestsDeeper(nested(100_000))).toBe(true);
    expect(nestsDeeper('just text', 0)).toBe(false);
  });
});
