// A dataset as QMD's dataset/prepare_data.py writes data/train/ (tobi/qmd v2.8.3 = facd35e), so
// QMD's `uv run train.py sft --config …` trains on it. prepare_data.py, step by step:
//   1. rows through dataset/schema.py: {query, output: [[type, text]…], intent?}; a structured row
//      keeps its own pairs, any other row's completion is read back into pairs as schema.py's
//      parse_output_text does (`lex: …`, `vec: …`, `hyde: …`; other lines left out, counted);
//   2. de-duplicated by `query.lower().strip()`, the first kept;
//   3. `random.seed(42); random.shuffle(rows)` (py-random.ts, the same order as CPython);
//   4. each row: user turn `/no_think Expand this search query: {query}` (+ `\nQuery intent: …`),
//      assistant turn output_items_to_text (hyde lines, then lex, then vec, each `type: text`),
//      `text` = the Qwen3 chat template of the two turns less its empty `<think>\n\n</think>\n\n`,
//      written as {"query", "output", "text", "messages"};
//   5. the first int(n·(1 − 0.1)) rows to train.jsonl, the rest to val.jsonl, one
//      `json.dumps(row)` a line (ASCII-escaped, ", " and ": " separators); train_chat.jsonl holds
//      the train rows' {"messages"}; dataset_info.json counts them (json.dump, indent 2).
import { strToU8, zipSync } from 'fflate';
import { DEFAULT_PROMPT_FORMAT, IM_END, IM_START, qmdUserMessage, type PromptFormat } from '../model/prompt.ts';
import type { DatasetRow } from './db.ts';
import { PythonRandom } from './py-random.ts';

export interface QmdExportRow {
  query: string;
  completion: string;
  intent?: string;
  /** A structured row's own [type, text] pairs, written to `output` as the row holds them (structuredOutput). */
  output?: readonly OutputPair[];
  /** 1-based line in the source file, for what is said about the row. */
  line?: number;
}

export interface QmdExportOptions {
  /** prepare_data.py --split (the validation share). */
  split?: number;
  /** prepare_data.py --seed. */
  seed?: number;
  /** The user turn's wording; QMD's (qmd-v4) by default, as prepare_data.py writes it. */
  format?: PromptFormat;
}

export interface QmdExport {
  /** data/train/'s files, in the order prepare_data.py writes them. */
  files: { name: 'train.jsonl' | 'val.jsonl' | 'train_chat.jsonl' | 'dataset_info.json'; text: string }[];
  train: number;
  val: number;
  /** Rows left out as a repeat of an earlier query. */
  duplicates: number;
  /** Rows left out with no lex/vec/hyde line (QMD's schema needs a non-empty output), by line. */
  empty: (number | null)[];
  /** Completion lines that are not a `lex:`/`vec:`/`hyde:` pair with text, left out of their row. */
  droppedLines: number;
}

export type OutputPair = readonly [type: 'hyde' | 'lex' | 'vec', text: string];

const OUTPUT_TYPES = ['hyde', 'lex', 'vec'] as const;

// Python's str.strip()/split() whitespace (str.isspace), which is not quite JavaScript's \s.
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const PY_RUNS = new RegExp(`[${PY_SPACE}]+`);
const pyStrip = (s: string) => s.replace(PY_EDGES, '');
const pyWords = (s: string) => pyStrip(s).split(PY_RUNS).filter((w) => w !== '').length;

/**
 * The [type, text] pairs of a structured row as imported (`{"query", "output": [[type, text]…]}`),
 * texts untrimmed and in file order as schema.py's output_as_lists writes them, without the items
 * the import left out (unknown type, blank text); undefined for a row of another shape.
 */
export function structuredOutput(original: unknown): OutputPair[] | undefined {
  const output = original !== null && typeof original === 'object' ? (original as { output?: unknown }).output : undefined;
  if (!Array.isArray(output)) return undefined;
  return output.filter((item): item is OutputPair =>
    Array.isArray(item) && item.length === 2 && OUTPUT_TYPES.includes(item[0]) && typeof item[1] === 'string' && pyStrip(item[1]) !== '');
}

/** A stored row as the export reads it: a structured row's own pairs, any other row's completion. */
export const exportRowOf = (row: Pick<DatasetRow, 'query' | 'completion' | 'intent' | 'line' | 'original'>): QmdExportRow => ({
  query: row.query,
  completion: row.completion,
  intent: row.intent,
  output: structuredOutput(row.original),
  line: row.line,
});

/** schema.py parse_output_text: the `type: text` pairs of a completion, and how many lines were not one. */
function outputPairs(completion: string): { pairs: OutputPair[]; dropped: number } {
  const pairs: OutputPair[] = [];
  let dropped = 0;
  for (const raw of pyStrip(completion).split('\n')) {
    const line = pyStrip(raw);
    if (line === '') continue;
    const type = OUTPUT_TYPES.find((t) => line.startsWith(`${t}:`));
    const text = type ? pyStrip(line.slice(type.length + 1)) : '';
    // schema.py's OutputPair refuses an empty text, so such a line is no pair either.
    if (!type || text === '') dropped++;
    else pairs.push([type, text]);
  }
  return { pairs, dropped };
}

/** schema.py output_items_to_text: hyde lines first, then lex, then vec, each in file order. */
const outputText = (pairs: readonly OutputPair[]) =>
  OUTPUT_TYPES.flatMap((type) => pairs.filter((p) => p[0] === type).map(([t, text]) => `${t}: ${pyStrip(text)}`)).join('\n');

/** Python's `json.dumps(value)`: ", " and ": " separators, every non-ASCII UTF-16 unit as \uXXXX. */
export function pythonJson(value: unknown, indent?: number, depth = 0): string {
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  // Python writes a float as repr does ("15.0"); only whole numbers are written this way (pythonRound1 writes the one float).
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`pythonJson: ${value} is not a whole number`);
    return String(value);
  }
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  const pad = indent === undefined ? '' : `\n${' '.repeat(indent * (depth + 1))}`;
  const end = indent === undefined ? '' : `\n${' '.repeat(indent * depth)}`;
  const separator = indent === undefined ? ', ' : ',';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => pad + pythonJson(v, indent, depth + 1)).join(separator)}${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{${entries.map(([k, v]) => `${pad}${pythonJson(k)}: ${pythonJson(v, indent, depth + 1)}`).join(separator)}${end}}`;
}

/** Python's `round(x, 1)` as repr prints it: ties to even on the exact binary value, "15.0" not "15". */
export function pythonRound1(x: number): string {
  // A tie at one decimal is an exact quarter (k + 0.25 or k + 0.75); toFixed would round it up.
  const tie = Number.isInteger(x * 4) && !Number.isInteger(x * 2);
  let tenths = tie ? Math.floor(x * 10) : Math.round(Number(x.toFixed(1)) * 10);
  if (tie && tenths % 2 !== 0) tenths += 1;
  const rounded = tenths / 10;
  return Number.isInteger(rounded) ? rounded.toFixed(1) : String(rounded);
}

/** The Qwen3 chat template of one user and one assistant turn, less the empty think block prepare_data.py strips. */
export const qmdTrainingText = (user: string, assistant: string) => `${IM_START}user\n${user}${IM_END}\n${IM_START}assistant\n${assistant}${IM_END}\n`;

/** `rows` as prepare_data.py would write them to data/train/. Throws when no row is left to write. */
export function exportQmdTrainData(rows: Iterable<QmdExportRow>, { split = 0.1, seed = 42, format = DEFAULT_PROMPT_FORMAT }: QmdExportOptions = {}): QmdExport {
  if (!(split >= 0 && split < 1)) throw new Error(`exportQmdTrainData: split ${split} must be in [0, 1)`);
  const seen = new Set<string>();
  const examples: { row: QmdExportRow; pairs: readonly OutputPair[] }[] = [];
  const empty: (number | null)[] = [];
  let duplicates = 0;
  let droppedLines = 0;
  for (const row of rows) {
    const parsed = row.output ? { pairs: row.output, dropped: 0 } : outputPairs(row.completion);
    const { pairs } = parsed;
    droppedLines += parsed.dropped;
    if (pairs.length === 0) {
      empty.push(row.line ?? null);
      continue;
    }
    const key = pyStrip(row.query.toLowerCase());
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    examples.push({ row, pairs });
  }
  if (examples.length === 0) throw new Error(`exportQmdTrainData: no row has a lex:, vec: or hyde: line to write`);
  new PythonRandom(seed).shuffle(examples);

  const formatted = examples.map(({ row, pairs }) => {
    const user = qmdUserMessage(row.query, format, row.intent);
    const assistant = outputText(pairs);
    const messages = [{ role: 'user', content: user }, { role: 'assistant', content: assistant }];
    return { query: row.query, output: pairs, text: qmdTrainingText(user, assistant), messages };
  });
  const splitAt = Math.trunc(formatted.length * (1 - split));
  const train = formatted.slice(0, splitAt);
  const val = formatted.slice(splitAt);
  const lines = (items: readonly unknown[]) => items.map((item) => `${pythonJson(item)}\n`).join('');
  const short = examples.filter(({ row }) => pyWords(row.query) <= 2).length;
  const info = `{
  "dataset_name": "qmd-query-expansion",
  "train_samples": ${train.length},
  "val_samples": ${val.length},
  "short_query_pct": ${pythonRound1((100 * short) / examples.length)},
  "columns": ${pythonJson(['text', 'messages'], 2, 1)}
}`;
  return {
    files: [
      { name: 'train.jsonl', text: lines(train) },
      { name: 'val.jsonl', text: lines(val) },
      { name: 'train_chat.jsonl', text: lines(train.map(({ messages }) => ({ messages }))) },
      { name: 'dataset_info.json', text: info },
    ],
    train: train.length,
    val: val.length,
    duplicates,
    empty,
    droppedLines,
  };
}

/** Where prepare_data.py puts its files inside QMD's finetune/ folder, and where the exported config goes. */
export const QMD_TRAIN_DIR = 'data/train';
export const QMD_CONFIG_PATH = 'configs/qmd-lab.yaml';

/**
 * What a user copies into tobi/qmd's finetune/ folder: data/train/* and configs/qmd-lab.yaml (the
 * QMD trainer config written by formatQmdTrainerConfig), as [path, text] pairs. One home for the
 * layout the page's zip and `qmd export-data` both write.
 */
export const qmdFinetuneFiles = (data: QmdExport, configText: string): [path: string, text: string][] => [
  ...data.files.map((f): [string, string] => [`${QMD_TRAIN_DIR}/${f.name}`, f.text]),
  [QMD_CONFIG_PATH, configText],
];

/** qmdFinetuneFiles as a zip whose one folder, finetune/, is laid over tobi/qmd's finetune/ folder. */
export function qmdFinetuneZip(files: readonly [path: string, text: string][], mtime = new Date()): Uint8Array<ArrayBuffer> {
  return zipSync(Object.fromEntries(files.map(([path, text]) => [`finetune/${path}`, [strToU8(text), { level: 6, mtime }]]))) as Uint8Array<ArrayBuffer>;
}
