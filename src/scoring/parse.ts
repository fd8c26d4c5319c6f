// Splitting a model's raw expansion into typed lines (spec: "parse(expansion)").
import type { Parsed } from './types.ts';
import { strip } from './text.ts';

export type LineKind = 'lex' | 'vec' | 'hyde';

const KINDS: readonly LineKind[] = ['lex', 'vec', 'hyde'];

/** The kind of a stripped line by its case-sensitive prefix, or null for an invalid line. */
export function lineKind(line: string): LineKind | null {
  for (const kind of KINDS) {
    if (line.startsWith(`${kind}:`)) return kind;
  }
  return null;
}

/** One stripped, non-empty line of the expansion, in order, with its kind and prefix-free text. */
export interface ExpansionLine {
  kind: LineKind | null;
  text: string;
}

export function expansionLines(expansion: string): ExpansionLine[] {
  const out: ExpansionLine[] = [];
  for (const raw of strip(expansion).split('\n')) {
    const line = strip(raw);
    if (line === '') continue;
    const kind = lineKind(line);
    out.push(kind ? { kind, text: strip(line.slice(kind.length + 1)) } : { kind: null, text: line });
  }
  return out;
}

export function parseExpansion(expansion: string): Parsed {
  const parsed: Parsed = { lex: [], vec: [], hyde: [], invalid: [] };
  for (const line of expansionLines(expansion)) parsed[line.kind ?? 'invalid'].push(line.text);
  return parsed;
}

/** Both profiles fail outright unless the first line opens with a prefix (a continuation of the prompt). */
export function startsWithPrefix(expansion: string): boolean {
  const firstLine = strip(strip(expansion).split('\n', 1)[0]!);
  return lineKind(firstLine) !== null;
}
