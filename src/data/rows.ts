// One JSONL line → a (query, completion) pair (and QMD's intent, where the row has one), or the
// reason it was rejected. Formats are detected per row by their keys; every rejection names the
// JSON path of the field at fault and says what was expected.
import type { RejectionKind, RowFormat } from './db.ts';
import { JsonNestingError, parseBoundedJson } from './json-depth.ts';
import type { ReportDrop } from './report.ts';
import { completionFromAssistant, parseTemplate, queryFromUserMessage, type PromptQuery } from '../model/prompt.ts';

export interface AcceptedRow {
  ok: true;
  format: RowFormat;
  query: string;
  completion: string;
  /** QMD's per-row intent (structured rows, or a user turn with a "Query intent:" line). */
  intent?: string;
  /** Output items of a structured row its completion leaves out. */
  drops: RowDrops;
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
    const { query, completion, intent, drops } = PAIR_READERS[format](record);
    return { ok: true, format, query, completion, ...(intent ? { intent } : {}), drops: drops ?? { count: 0, listed: [] }, original: value };
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
  if ('query' in record) return 'structured';
  if ('prompt' in record || 'completion' in record) return 'prompt_completion';
  if ('input' in record || 'output' in record) return 'input_output';
  if ('text' in record) return 'text';
  const keys = Object.keys(record);
  throw new RowError(
    'missing_field',
    '',
    `expected {"query","output"}, {"input","output"}, {"messages"}, {"prompt","completion"} or {"text"}; ` +
      `found ${keys.length ? `keys ${quoteKeys(keys)}` : 'an empty object'}`,
  );
}

/** Keys a reason quotes: a row with thousands of keys must not make a reason as long as the row. */
const QUOTED_KEYS = 8;

function quoteKeys(keys: string[]): string {
  const quoted = keys.slice(0, QUOTED_KEYS).map(excerpt).join(', ');
  return keys.length > QUOTED_KEYS ? `${quoted} and ${keys.length - QUOTED_KEYS} more` : quoted;
}

/** What a row's completion left out: `count` items, the first ROW_DROPS of them listed. */
export interface RowDrops {
  count: number;
  listed: Omit<ReportDrop, 'line'>[];
}

/** Left-out items a row lists: a row of thousands of bad items must not make a report as long as the row. */
export const ROW_DROPS = 8;

type Pair = PromptQuery & { completion: string; drops?: RowDrops };

const PAIR_READERS: Record<RowFormat, (record: Record<string, unknown>) => Pair> = {
  structured: structuredPair,
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
    return { ...promptQuery(record.prompt), completion: completionOf(record.completion) };
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

const OUTPUT_TYPES = ['hyde', 'lex', 'vec'] as const;
type OutputType = (typeof OUTPUT_TYPES)[number];

/**
 * QMD's structured row `{"query", "output": [[type, text]…], "intent"?, …}` (extra fields ignored),
 * rendered as tobi/qmd finetune/dataset/schema.py `output_items_to_text` does: each text trimmed,
 * items with an unknown type or an empty text left out, then hyde lines first, lex, vec, each kept
 * in file order, as `type: text` lines. An item that is not a [type, text] pair fails the row, as
 * schema.py's loader fails it. The query and intent are trimmed; a blank intent counts as none.
 */
function structuredPair(record: Record<string, unknown>): Pair {
  const query = field(record, 'query', '', 'the search query').trim();
  if (query === '') throw new RowError('missing_field', 'query', 'query is empty: expected the search query');
  const output = record.output;
  const expected = 'a list of ["hyde" | "lex" | "vec", text] pairs';
  if (output === undefined) throw missing('output', expected);
  if (!Array.isArray(output)) throw wrongType('output', expected, output);
  if (output.length === 0) throw new RowError('empty_completion', 'output', `output is empty: expected ${expected}`);
  const lines: Record<OutputType, string[]> = { hyde: [], lex: [], vec: [] };
  const drops: RowDrops = { count: 0, listed: [] };
  const drop = (field: string, reason: string) => {
    if (drops.count++ < ROW_DROPS) drops.listed.push({ field, reason });
  };
  output.forEach((item: unknown, i) => {
    const at = `output[${i}]`;
    if (!Array.isArray(item) || item.length !== 2) throw wrongType(at, 'a [type, text] pair', item);
    const [type, text] = item as [unknown, unknown];
    if (!OUTPUT_TYPES.includes(type as OutputType)) return drop(`${at}[0]`, `expected "hyde", "lex" or "vec", got ${typeName(type)}`);
    if (typeof text !== 'string') return drop(`${at}[1]`, `expected the ${type as string} text (a string), got ${typeName(text)}`);
    if (text.trim() === '') return drop(`${at}[1]`, `the ${type as string} text is empty`);
    lines[type as OutputType].push(`${type as string}: ${text.trim()}`);
  });
  const completion = [...lines.hyde, ...lines.lex, ...lines.vec].join('\n');
  if (completion === '') {
    const first = drops.listed[0]!;
    throw new RowError('empty_completion', 'output', `output: no item is a hyde, lex or vec line with text (${drops.count} left out; ${first.field}: ${first.reason})`);
  }
  return { query, completion, ...intentOf(record), drops };
}

function intentOf(record: Record<string, unknown>): { intent?: string } {
  const intent = record.intent;
  if (intent === undefined || intent === null) return {};
  if (typeof intent !== 'string') throw wrongType('intent', 'a string (what the query is after) or null', intent);
  return intent.trim() === '' ? {} : { intent: intent.trim() };
}

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
    ...queryOf(turns[user]),
    completion: checkCompletion(completionFromAssistant(turns[assistant].content), turns[assistant].path),
  };
}

function queryOf(turn: Turn): PromptQuery {
  const asked = queryFromUserMessage(turn.content);
  if (asked === null) throw new RowError('not_qmd_prompt', turn.path, `${QMD_PROMPT_EXPECTED}, got ${excerpt(turn.content)}`);
  if (asked.query === '') throw new RowError('not_qmd_prompt', turn.path, `the query after "Expand this search query:" is empty`);
  return asked;
}

/** `prompt` of a prompt/completion row: a message list, chat-template text or the bare user turn. */
function promptQuery(prompt: unknown): PromptQuery {
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
