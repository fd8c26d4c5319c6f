import { describe, expect, test } from 'vitest';
import { isGeneric, namedEntities } from './entities.ts';

describe('namedEntities', () => {
  test.each([
    ['acronym and the word after it', 'TDS motorsports', ['motorsports', 'tds']],
    ['C++ is an acronym by isupper; the chain continues', 'how to learn C++ fast', ['c++', 'fast']],
    ['3D counts as upper-case', '3D printing tips', ['3d', 'printing', 'tips']],
    ['dotted name; stop words break the chain', 'install node.js on mac', ['node.js']],
    ['C#', 'what is C# used for', ['c#', 'used']],
    ['x86-64 by its hyphen', 'x86-64 assembly', ['assembly', 'x86-64']],
    ['CamelCase at the start of the query', 'GitHub actions', ['actions', 'github']],
    ['a capital first word alone is no entity', 'Kubernetes pods', []],
    ['multiword capitalised name', 'who is Ada Lovelace', ['ada', 'lovelace']],
    ['capitalised stop word is no entity', 'find Where', []],
    ['punctuation is stripped from both ends', 'learn "(Rust)"? today', ['rust', 'today']],
    ['a word of punctuation only breaks the chain', 'TDS ... motorsports', ['tds']],
    ['a single capital letter is not an acronym', 'A cat', []],
    ['@handles', 'posts by @elonmusk', ['@elonmusk']],
    ['duplicates collapse, result sorted', 'API API docs', ['api', 'docs']],
  ])('%s: %s', (_why, query, want) => {
    expect(namedEntities(query)).toEqual(want);
  });
});

describe('isGeneric', () => {
  test.each([
    ['search for', true],
    ['Search For', true],
    ['search for it', true],
    ['search for nginx', false],
    ['What is?', true],
    ['information', true],
    ['howto', true],
    ['searching', false],
    ['find out about it', true],
    ['nginx config', false],
  ] as const)('%j → %s', (line, generic) => {
    expect(isGeneric(line)).toBe(generic);
  });
});
