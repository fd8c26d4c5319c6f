// Cost of scoring the worst expansions the limits accept (scoring/limits.ts), beside the
// pair-by-pair rule the scorers used before (every pair compared, one deduction per pair).
// `npx tsx bench/score-limits.ts`; prints a Markdown table for bench/RESULTS.md.
import { cpus, loadavg } from 'node:os';
import { explain, scoreBoth } from '../src/scoring/index.ts';
import { MAX_EXPANSION_LINES } from '../src/scoring/limits.ts';
import { isDiverse } from '../src/scoring/rules.ts';

const N = MAX_EXPANSION_LINES;
const cases: Record<string, string[]> = {
  [`${N} distinct short lex lines`]: Array.from({ length: N }, (_, i) => `t${i}`),
  [`${N} distinct 30-char lex lines`]: Array.from({ length: N }, (_, i) => `${'w'.repeat(26)}${i}`.padEnd(30, 'x')),
  [`${N} identical lex lines`]: Array.from({ length: N }, () => 'a'),
};

function best(f: () => void, passes = 5): number {
  f();
  let ms = Infinity;
  for (let p = 0; p < passes; p++) {
    const start = performance.now();
    f();
    ms = Math.min(ms, performance.now() - start);
  }
  return ms;
}

/** What eval did per kind before: compare every pair and keep one deduction string per duplicate pair. */
function pairByPair(lines: string[]): number {
  const deductions: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) if (!isDiverse(lines[i]!, lines[j]!, 2)) deductions.push(`${lines[i]} ~ ${lines[j]}`);
  }
  return deductions.length;
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; best of 5\n`);
console.log('| expansion | scoreBoth | explain | pair-by-pair lex rule alone (before) |');
console.log('|---|---|---|---|');
for (const [name, lines] of Object.entries(cases)) {
  const expansion = lines.map((l) => `lex: ${l}`).join('\n');
  const both = best(() => scoreBoth('t1 query', expansion));
  const explained = best(() => explain('t1 query', expansion));
  const before = best(() => pairByPair(lines));
  console.log(`| ${name} | ${both.toFixed(1)} ms | ${explained.toFixed(1)} ms | ${before.toFixed(1)} ms |`);
}
