// The QMD prompt: how a query becomes the Qwen3 chat-template text the model continues,
// and how a query is recovered from a user turn. Prompt wording differs per model
// (design.md "Prompt"), so each wording is data; the v4 one is the default.

export interface PromptFormat {
  id: string;
  /** The user turn, with `{query}` where the query goes. */
  user: string;
}

/** tobil/qmd-query-expansion-0.6B-v4 and the QMD training set. */
export const QMD_V4_PROMPT: PromptFormat = {
  id: 'qmd-v4',
  user: '/no_think Expand this search query: {query}',
};

/** tobil/qmd-query-expansion-1.7B (its model card). */
export const QMD_1_7B_PROMPT: PromptFormat = {
  id: 'qmd-1.7b',
  user: 'Expand this search query:\n{query}',
};

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

/** The user turn of `format` for `query`. */
export function qmdUserMessage(query: string, format: PromptFormat = QMD_V4_PROMPT): string {
  return format.user.replace('{query}', query);
}

/**
 * The exact text the model continues: the Qwen3 chat template for one user turn plus the
 * generation prompt. With thinking off by `/no_think` the template adds no `<think>` block
 * to the generation prompt; the completion follows, then `<|im_end|>`.
 */
export function qmdPrompt(query: string, format: PromptFormat = QMD_V4_PROMPT): string {
  return `${IM_START}user\n${qmdUserMessage(query, format)}${IM_END}\n${IM_START}assistant\n`;
}

// Every known wording: "Expand this search query:" with or without a leading `/no_think`,
// the query after a space or a newline.
const USER_PATTERN = /^(?:\/no_think\s+)?Expand this search query:\s*([\s\S]*)$/;

/**
 * The query inside a QMD user turn, or null when the text is not a QMD prompt.
 * An empty query (`"Expand this search query: "`) is returned as ''.
 */
export function queryFromUserMessage(content: string): string | null {
  const match = USER_PATTERN.exec(content.trim());
  return match ? match[1].trim() : null;
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
