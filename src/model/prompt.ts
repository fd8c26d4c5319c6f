// The QMD prompt formats: how a query (and a row's intent) becomes the Qwen3 chat-template text
// the model continues, and how they are recovered from a user turn. The wording differs per model
// (design.md "Prompt"), so each wording is data in one registry, keyed by id; the catalog
// (configs/models.json), the worker, the CLI and training all look formats up here.

export interface PromptFormat {
  readonly id: string;
  /** One line for the model panel and the CLI's usage. */
  readonly description: string;
  /** The user turn, with `{query}` where the query goes. */
  readonly user: string;
  /** Appended to the user turn when a row has an intent, with `{intent}` where it goes. */
  readonly intent: string;
}

// QMD's trainer adds the intent as its own line after the query (tobi/qmd
// finetune/dataset/prepare_data.py format_for_training: `…: {query}\nQuery intent: {intent.strip()}`).
const INTENT_LINE = '\nQuery intent: {intent}';

const FORMATS = [
  {
    id: 'qmd-v4',
    description: 'tobil/qmd-query-expansion-0.6B-v4 and QMD\'s trainer: "/no_think Expand this search query: {query}"',
    // Also what QMD's trainer writes today (prepare_data.py) and what its runtime asks its
    // default GGUF model (src/llm.ts expandQuery), which never sends the intent.
    user: '/no_think Expand this search query: {query}',
    intent: INTENT_LINE,
  },
  {
    id: 'qmd-1.7b',
    description: 'tobil/qmd-query-expansion-1.7B (its model card): "Expand this search query:\\n{query}"',
    user: 'Expand this search query:\n{query}',
    // The card documents no intent. The v4 rendering appends the same line after the query, and
    // here the query sits on a line of its own, so appending it keeps that line intact and a
    // model trained on it reads the query exactly as the card's prompt gives it.
    intent: INTENT_LINE,
  },
] as const satisfies readonly PromptFormat[];

export type PromptFormatId = (typeof FORMATS)[number]['id'];

/** Every known format, the default first. */
export const PROMPT_FORMATS: readonly PromptFormat[] = FORMATS;

export const PROMPT_FORMAT_IDS: readonly PromptFormatId[] = FORMATS.map((f) => f.id);

/** What a model without a format of its own (a local folder, an unlisted repo) is asked in. */
export const DEFAULT_PROMPT_FORMAT: PromptFormat = FORMATS[0];

export function isPromptFormatId(id: string): id is PromptFormatId {
  return (PROMPT_FORMAT_IDS as readonly string[]).includes(id);
}

/** The format `id`; an unknown id throws, naming it (and `where` it came from) and the known ones. */
export function promptFormat(id: string, where = 'prompt format'): PromptFormat {
  const format = PROMPT_FORMATS.find((f) => f.id === id);
  if (!format) throw new Error(`${where}: unknown prompt format ${JSON.stringify(id)}; known: ${PROMPT_FORMAT_IDS.join(', ')}`);
  return format;
}

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

/** The user turn of `format` for `query`; `intent` (trimmed, as QMD does) adds its line when not empty. */
export function qmdUserMessage(query: string, format: PromptFormat = DEFAULT_PROMPT_FORMAT, intent?: string): string {
  // Function replacers: a query holding `$&` or `$'` must be inserted as written.
  const user = format.user.replace('{query}', () => query);
  const trimmed = intent?.trim() ?? '';
  return trimmed === '' ? user : user + format.intent.replace('{intent}', () => trimmed);
}

/**
 * The exact text the model continues: the Qwen3 chat template for one user turn plus the
 * generation prompt. With thinking off by `/no_think` the template adds no `<think>` block
 * to the generation prompt; the completion follows, then `<|im_end|>`.
 */
export function qmdPrompt(query: string, format: PromptFormat = DEFAULT_PROMPT_FORMAT, intent?: string): string {
  return `${IM_START}user\n${qmdUserMessage(query, format, intent)}${IM_END}\n${IM_START}assistant\n`;
}

/** What a QMD user turn asks: the query, and the row's intent when the turn gives one. */
export interface PromptQuery {
  query: string;
  intent?: string;
}

// Every known wording: "Expand this search query:" with or without a leading `/no_think`, the
// query after a space or a newline, then (optionally) the intent line every format appends.
const USER_PATTERN = /^(?:\/no_think\s+)?Expand this search query:\s*([\s\S]*?)(?:\nQuery intent:[ \t]*([\s\S]*))?$/;

/**
 * The query (and intent) inside a QMD user turn, or null when the text is not a QMD prompt.
 * An empty query (`"Expand this search query: "`) is returned as ''; an empty intent is left out.
 */
export function queryFromUserMessage(content: string): PromptQuery | null {
  const match = USER_PATTERN.exec(content.trim());
  if (!match) return null;
  const intent = match[2]?.trim() ?? '';
  return intent === '' ? { query: match[1]!.trim() } : { query: match[1]!.trim(), intent };
}

// The chat template puts an empty think block before a final assistant message; the
// completion the model must learn is what follows it.
const EMPTY_THINK = /^<think>\s*<\/think>\s*/;

/** An assistant turn without its leading empty `<think></think>` block or trailing `<|im_end|>`. */
export function completionFromAssistant(content: string): string {
  let text = content.replace(EMPTY_THINK, '');
  const end = text.lastIndexOf(IM_END);
  if (end >= 0 && text.slice(end + IM_END.length).trim() === '') text = text.slice(0, end);
  return text;
}

export interface TemplateTurn {
  role: string;
  content: string;
}

const TURN = /<\|im_start\|>([^\n]*)\n([\s\S]*?)(?:<\|im_end\|>|$)/g;

/** The turns of a Qwen3 chat-template text, in order (a final turn may lack `<|im_end|>`). */
export function parseTemplate(text: string): TemplateTurn[] {
  return [...text.matchAll(TURN)].map((m) => ({ role: m[1].trim(), content: m[2] }));
}
