import { describe, expect, it } from 'vitest';
import type { GenerateClient } from '../app/eval-run.ts';
import type { SamplingRequest } from '../engine/protocol.ts';
import { expandedVariants } from './variants.ts';

const sampling: SamplingRequest = { greedy: true, temperature: 0.7, topK: 0, topP: 1, seed: 3, maxNewTokens: 8 };

describe('expandedVariants', () => {
  it('expands each distinct query once per variant through the engine client', async () => {
    const asked: string[] = [];
    const client: GenerateClient = {
      call: async (request) => {
        asked.push(`${request.adapter ?? 'base'}:${request.query}`);
        return { text: `lex: ${request.query} by ${request.adapter ?? 'base'}`, ids: [], finish: 'stop', tokensPerSecond: 1, promptTokens: 1 };
      },
    };
    const { variants, outputs } = await expandedVariants(client, ['a', 'b', 'a'], [{ adapter: null, label: 'base' }, { adapter: 'x1', label: 'mine' }], sampling);
    expect(asked).toEqual(['base:a', 'base:b', 'x1:a', 'x1:b']);
    expect(variants.map((v) => [v.label, [...v.expansions!]])).toEqual([
      ['base', [['a', 'lex: a by base'], ['b', 'lex: b by base']]],
      ['mine', [['a', 'lex: a by x1'], ['b', 'lex: b by x1']]],
    ]);
    expect(outputs.map((o) => [o.variant.label, o.pairs.length, o.planned])).toEqual([['base', 2, 2], ['mine', 2, 2]]);
    expect(await expandedVariants(client, ['a'], [], sampling)).toEqual({ variants: [], outputs: [] });
  });
});
