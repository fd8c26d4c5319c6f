import { beforeAll, describe, expect, it } from 'vitest';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { PROMPT_FORMATS, qmdPrompt, qmdUserMessage } from '../model/prompt.ts';
import { IM_END, type Qwen3Tokenizer } from './tokenizer.ts';

let tokenizer: Qwen3Tokenizer;
beforeAll(async () => {
  tokenizer = await loadBundledTokenizer();
});

describe('Qwen3 tokenizer and QMD prompt', () => {
  it.each(PROMPT_FORMATS.map((f) => [f.id, f] as const))('%s matches the chat template with a generation prompt, with and without an intent', (_, format) => {
    const query = 'how to register to vote online';
    for (const intent of [undefined, 'first-time voter']) {
      const templated = tokenizer.inner.apply_chat_template([{ role: 'user', content: qmdUserMessage(query, format, intent) }], {
        tokenize: false,
        add_generation_prompt: true,
      });
      expect(qmdPrompt(query, format, intent)).toBe(templated);
      expect(tokenizer.decode(tokenizer.promptIds(query, format, intent), false)).toBe(templated);
    }
    expect(tokenizer.decode(tokenizer.example(query, 'lex: vote', format, 'first-time voter').ids, false)).toContain('\nQuery intent: first-time voter<|im_end|>');
  });

  it('tokenizes special tokens as single ids and round-trips text', () => {
    const ids = tokenizer.promptIds('vote online');
    expect(ids[0]).toBe(151644);
    expect(ids).toContain(IM_END);
    expect(tokenizer.decode(ids, false)).toBe(
      '<|im_start|>user\n/no_think Expand this search query: vote online<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('marks only the completion and its <|im_end|> for the loss', () => {
    const { ids, completionMask } = tokenizer.example('vote online', 'lex: voter registration');
    const promptLength = tokenizer.promptIds('vote online').length;
    expect(completionMask.slice(0, promptLength).every((m) => m === 0)).toBe(true);
    expect(completionMask.slice(promptLength).every((m) => m === 1)).toBe(true);
    expect(ids.at(-1)).toBe(IM_END);
    expect(tokenizer.decode(ids.slice(promptLength, -1))).toBe('lex: voter registration');
  });
});
