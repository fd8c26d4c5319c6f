// "Untrusted text is never HTML", checked at the source: no component may render a string
// as markup, and no UI or app code may write HTML through the DOM. The e2e tests check the
// same rule on the rendered page for the inputs they try; this covers every code path.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(import.meta.dirname, '..');
const HERE = relative(SRC, import.meta.filename);

/** Svelte's raw-HTML tag and the DOM's HTML sinks. */
const SINKS = [/\{\s*@html\b/, /\.(innerHTML|outerHTML)\s*=/, /\binsertAdjacentHTML\s*\(/, /\bdocument\.write(ln)?\s*\(/];

function htmlSinks(source: string): string[] {
  return source.split('\n').flatMap((line, i) => (SINKS.some((sink) => sink.test(line)) ? [`${i + 1}: ${line.trim()}`] : []));
}

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && keep(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('untrusted text is never HTML', () => {
  it('recognises each sink (so that the scan below can fail)', () => {
    const raw = '{' + '@html line.text}';
    expect(htmlSinks(`<p>\n  ${raw}\n</p>`)).toEqual([`2: ${raw}`]);
    expect(htmlSinks('{ ' + '@html x }')).toHaveLength(1);
    expect(htmlSinks('el.inner' + 'HTML = text;')).toHaveLength(1);
    expect(htmlSinks('el.insertAdjacent' + 'HTML("beforeend", s)')).toHaveLength(1);
    expect(htmlSinks('<p>{line.text}</p>\nconst html = "@html is a Svelte tag";')).toEqual([]);
  });

  it('no .svelte file under src/ renders raw HTML, and src/ui and src/app never write HTML to the DOM', () => {
    const svelte = files(SRC, (name) => name.endsWith('.svelte'));
    expect(svelte.length).toBeGreaterThan(10);
    const ui = [...files(join(SRC, 'ui'), (name) => name.endsWith('.ts')), ...files(join(SRC, 'app'), (name) => name.endsWith('.ts'))]
      .filter((path) => relative(SRC, path) !== HERE);
    const found = [...svelte, ...ui].flatMap((path) => htmlSinks(readFileSync(path, 'utf8')).map((hit) => `${relative(SRC, path)}:${hit}`));
    expect(found).toEqual([]);
  });
});
