import { describe, expect, test } from 'vitest';
import { compareCodePoints, cpLength, cpSlice, isSpace, isUpper, strip, words } from './text.ts';

describe('Python whitespace (str.isspace)', () => {
  test.each(['\t', '\n', '\x0b', '\x0c', '\r', '\x1c', '\x1d', '\x1e', '\x1f', ' ', '\x85', '\xa0', '\u1680',
    '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'])('%j is whitespace', (ch) => {
    expect(isSpace(ch.charCodeAt(0))).toBe(true);
  });
  test.each(['\ufeff', '\u200b', '\u180e', 'a', '\x00', '\x1b'])('%j is not whitespace', (ch) => {
    expect(isSpace(ch.charCodeAt(0))).toBe(false);
  });
  test('strip removes \\x1c and \\x85 but keeps \\ufeff, unlike String.trim', () => {
    expect(strip('\x1c a \x85')).toBe('a');
    expect('\x1c a \x85'.trim()).not.toBe('a');
    expect(strip('\ufeffa\ufeff')).toBe('\ufeffa\ufeff');
    expect(strip(' \t\n ')).toBe('');
  });
  test('words splits on runs of Python whitespace only', () => {
    expect(words('a\x1cb\x85c\ufeffd')).toEqual(['a', 'b', 'c\ufeffd']);
    expect(words('  one \u3000\u2028 two  ')).toEqual(['one', 'two']);
    expect(words(' \n ')).toEqual([]);
  });
});

describe('code points', () => {
  test('length counts code points, not UTF-16 units', () => {
    expect(cpLength('👍🏽 ok')).toBe(5);
    expect('👍🏽 ok'.length).toBe(7);
    expect(cpLength('\ud83d')).toBe(1);
  });
  test('slice takes whole code points', () => {
    expect(cpSlice('👍🏽 ok', 1)).toBe('👍');
    expect(cpSlice('a😀b', 2)).toBe('a😀');
    expect(cpSlice('abc', 10)).toBe('abc');
  });
  test('sort order is by code point, as Python sorts strings', () => {
    const sorted = ['z', '\uff21', '😀', 'a'].sort(compareCodePoints);
    expect(sorted).toEqual(['a', 'z', '\uff21', '😀']);
    expect(['z', '\uff21', '😀', 'a'].sort()).not.toEqual(sorted);
    expect(['ab', 'a'].sort(compareCodePoints)).toEqual(['a', 'ab']);
  });
});

describe('isUpper (str.isupper)', () => {
  test.each([['C++', true], ['3D', true], ['TDS', true], ['ΣΑ', true], ['x86-64', false], ['123', false],
    ['\u01c5', false], ['Node', false]] as const)('%s → %s', (s, upper) => {
    expect(isUpper(s)).toBe(upper);
  });
});
