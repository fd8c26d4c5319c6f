// One JSONL line → a (query, completion) pair, or the reason it was rejected.
// Formats are detected per row by their keys; every rejection names the JSON path of the
// field at fault and says what was expected.
import type { RejectionKind, RowFormat } from './db.ts';
import { JsonNestingError, parseBoundedJson } from './json-depth.ts';
import { completionFromAssistant, parseTemplate, queryFromUserMessage } from './prompt.ts';

export interface AcceptedRow {
  ok: true;
  format: RowFormat;
  query: string;
  completion: string;
  original: unknown;
}

export interface RejectedRow {
  ok: false;
  kind: RejectionKind;
  /** JSON path of the offending field; '' for the whole line. */
  field: string;
  reason: string;
}

export type ParsedRow = AcceptedRow | RejectedRow;

class RowError extends Error {
  constructor(
    readonly kind: RejectionKind,
    readonly field: string,
    reason: string,
  ) {
    super(reason);
  }
}

const QMD_PROMPT_EXPECTED =
  `expected "/no_think Expand this search query: <query>" or "Expand this search query: <query>"`;

/** Parse one non-blank JSONL line. */
export function parseRow(line: string): ParsedRow {
  let value: unknown;
  try {
    value = parseBoundedJson(line);
  } catch (err) {
    if (err instanceof JsonNestingError) return reject('too_deep', '', err.message);
    return reject('invalid_json', '', `not valid JSON (${(err as Error).message}): expected one JSON object per line`);
  }
  try {
    const record = asRecord(value, '');
    const format = detectFormat(record);
    const { query, completion } = PAIR_READERS[format](record);
    return { ok: true, format, query, completion, original: value };
  } catch (err) {
    if (err instanceof RowError) return reject(err.kind, err.field, err.message);
    throw err;
  }
}

function reject(kind: RejectionKind, field: string, reason: string): RejectedRow {
  return { ok: false, kind, field, reason };
}

function detectFormat(record: Record<string, unknown>): RowFormat {
  if ('messages' in record) return 'messages';
  if ('prompt' in record || 'completion' in record) return 'prompt_completion';
  if ('input' in record || 'output' in record) return 'input_output';
  if ('text' in record) return 'text';
  const keys = Object.keys(record);
  throw new RowError(
    'missing_field',
    '',
    `expected {"input","output"}, {"messages"}, {"prompt","completion"} or {"text"}; ` +
      `found ${keys.length ? `keys ${quoteKeys(keys)}` : 'an empty object'}`,
  );
}

/** Keys a reason quotes: a row with thousands of keys must not make a reason as long as the row. */
const QUOTED_KEYS = 8;

function quoteKeys(keys: string[]): string {
  const quoted = keys.slice(0, QUOTED_KEYS).map(excerpt).join(', ');
  return keys.length > QUOTED_KEYS ? `${quoted} and ${keys.length - QUOTED_KEYS} more` : quoted;
}

type Pair = { query: string; completion: string };

const PAIR_READERS: Record<RowFormat, (record: Record<string, unknown>) => Pair> = {
  input_output(record) {
    const query = field(record, 'input', '', 'the search query').trim();
    if (query === '') throw new RowError('missing_field', 'input', 'input is empty: expected the search query');
    return { query, completion: checkCompletion(field(record, 'output', '', 'the expansion'), 'output') };
  },
  messages(record) {
    return pairFromTurns(messageList(record.messages, 'messages'), 'messages');
  },
  prompt_completion(record) {
    if (!('prompt' in record)) throw missing('prompt', 'the QMD prompt (a string or a message list)');
    if (!('completion' in record)) throw missing('completion', 'the expansion (a string or a message list)');
    return { query: promptQuery(record.prompt), completion: completionOf(record.completion) };
  },
  text(record) {
    const text = field(record, 'text', '', 'Qwen3 chat-template text');
    const turns = parseTemplate(text).map((turn) => ({ ...turn, path: 'text' }));
    if (turns.length === 0) {
      throw new RowError('not_qmd_prompt', 'text', `expected Qwen3 chat-template text starting with "<|im_start|>user\\n"`);
    }
    return pairFromTurns(turns, 'text');
  },
};

interface Turn {
  role: string;
  content: string;
  /** JSON path of the content. */
  path: string;
}

/** The QMD pair inside a conversation: the last assistant turn and the user turn before it. */
function pairFromTurns(turns: Turn[], path: string): Pair {
  const assistant = turns.findLastIndex((t) => t.role === 'assistant');
  if (assistant < 0) throw missing(path, 'an assistant turn holding the completion');
  const user = turns.slice(0, assistant).findLastIndex((t) => t.role === 'user');
  if (user < 0) throw missing(path, 'a user turn with the QMD prompt before the assistant turn');
  return {
    query: queryOf(turns[user]),
    completion: checkCompletion(completionFromAssistant(turns[assistant].content), turns[assistant].path),
  };
}

function queryOf(turn: Turn): string {
  const query = queryFromUserMessage(turn.content);
  if (query === null) throw new RowError('not_qmd_prompt', turn.path, `${QMD_PROMPT_EXPECTED}, got ${excerpt(turn.content)}`);
  if (query === '') throw new RowError('not_qmd_prompt', turn.path, `the query after "Expand this search query:" is empty`);
  return query;
}

/** `prompt` of a prompt/completion row: a message list, chat-template text or the bare user turn. */
function promptQuery(prompt: unknown): string {
  if (Array.isArray(prompt)) {
    const turns = messageList(prompt, 'prompt');
    const user = turns.findLastIndex((t) => t.role === 'user');
    if (user < 0) throw missing('prompt', 'a user message with the QMD prompt');
    return queryOf(turns[user]);
  }
  if (typeof prompt !== 'string') throw wrongType('prompt', 'a string or a message list', prompt);
  const turns = parseTemplate(prompt);
  const user = turns.findLastIndex((t) => t.role === 'user');
  return queryOf({ role: 'user', content: user >= 0 ? turns[user].content : prompt, path: 'prompt' });
}

/** `completion` of a prompt/completion row: a string or a message list ending with the assistant turn. */
function completionOf(completion: unknown): string {
  if (typeof completion === 'string') return checkCompletion(completionFromAssistant(completion), 'completion');
  if (!Array.isArray(completion)) throw wrongType('completion', 'a string or a message list', completion);
  const turns = messageList(completion, 'completion');
  const assistant = turns.findLastIndex((t) => t.role === 'assistant');
  if (assistant < 0) throw missing('completion', 'an assistant message holding the expansion');
  return checkCompletion(completionFromAssistant(turns[assistant].content), turns[assistant].path);
}

function messageList(value: unknown, path: string): Turn[] {
  if (value === undefined) throw missing(path, 'an array of {role, content} messages');
  if (!Array.isArray(value)) throw wrongType(path, 'an array of {role, content} messages', value);
  return value.map((message, i) => {
    const at = `${path}[${i}]`;
    const record = asRecord(message, at);
    return {
      role: roleOf(record, at),
      content: field(record, 'content', at, 'the message text'),
      path: `${at}.content`,
    };
  });
}

const ROLES = ['user', 'assistant', 'system'];

/** Chat templates match roles exactly: "User" would silently drop the turn, so say why it is refused. */
function roleOf(record: Record<string, unknown>, at: string): string {
  const role = field(record, 'role', at, 'the role (user, assistant or system)');
  const lower = role.toLowerCase();
  if (role !== lower && ROLES.includes(lower)) {
    throw new RowError('wrong_type', `${at}.role`, `${at}.role: roles are lower-case: expected "${lower}", got ${excerpt(role)}`);
  }
  return role;
}

function checkCompletion(completion: string, path: string): string {
  if (completion.trim() === '') throw new RowError('empty_completion', path, 'the completion is empty: expected lex:/vec:/hyde: lines');
  return completion;
}

function field(record: Record<string, unknown>, key: string, at: string, what: string): string {
  const path = at ? `${at}.${key}` : key;
  const value = record[key];
  if (value === undefined) throw missing(path, `${what} (a string)`);
  if (typeof value !== 'string') throw wrongType(path, `a string (${what})`, value);
  return value;
}

function asRecord(value: unknown, path: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw wrongType(path, 'a JSON object', value);
}

function missing(path: string, expected: string): RowError {
  return new RowError('missing_field', path, `${path || 'line'}: expected ${expected}, found nothing`);
}

function wrongType(path: string, expected: string, value: unknown): RowError {
  return new RowError('wrong_type', path, `${path || 'line'}: expected ${expected}, got ${typeName(value)}`);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${typeof value === 'string' ? excerpt(value) : shorten(String(value))}`;
}

function excerpt(text: string): string {
  return JSON.stringify(shorten(text));
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
