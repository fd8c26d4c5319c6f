// The notes a retrieval eval searches: markdown files of one folder, by their path inside it
// (the folder's own name first, as a browser's directory upload reports it: `docs/api.md`).
// Files are admitted before they are read, by size, so a huge folder costs nothing to refuse.
import { count, MAX_NOTE_BYTES, MAX_NOTES, MAX_NOTES_TOTAL_BYTES } from './limits.ts';

export interface Note {
  /** Path inside the chosen folder, `/`-separated, the folder's name first. */
  path: string;
  /** The first `#` or `##` heading, else the file name without its extension (QMD's rule). */
  title: string;
  text: string;
}

/** A file left out of the notes, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** Folders QMD never indexes (besides hidden ones). */
const EXCLUDED_FOLDERS: ReadonlySet<string> = new Set(['node_modules', '.git', '.cache', 'vendor', 'dist', 'build']);

/** A folder QMD's glob does not enter: a hidden one, or one of EXCLUDED_FOLDERS. */
export const isIgnoredFolder = (name: string): boolean => name.startsWith('.') || EXCLUDED_FOLDERS.has(name);

/**
 * QMD's default: `**∕*.md`, hidden files and folders left out, and EXCLUDED_FOLDERS. The first
 * segment is the chosen folder itself, which is taken whatever its name.
 */
export function isNotePath(path: string): boolean {
  const segments = path.split('/');
  const name = segments.pop()!;
  return name.toLowerCase().endsWith('.md') && !name.startsWith('.') && !segments.slice(1).some(isIgnoredFolder);
}

/**
 * QMD's extractTitle for markdown: the first line that is a level-1 or level-2 heading; a first
 * heading of "Notes" or "📝 Notes" (a daily-note template) gives way to the first level-2 one.
 */
export function noteTitle(text: string, path: string): string {
  const heading = /^##?\s+(.+)$/m.exec(text);
  if (heading) {
    const title = heading[1]!.trim();
    if (title === 'Notes' || title === '📝 Notes') {
      const next = /^##\s+(.+)$/m.exec(text);
      if (next) return next[1]!.trim();
    }
    if (title) return title;
  }
  const name = path.replace(/\.[^.]+$/, '').split('/').pop();
  return name || path;
}

/** Thrown when a folder is over the note limits. */
export class NoteLimitError extends Error {
  override name = 'NoteLimitError';
}

/** Admits files one at a time (by path and byte size, before reading them) within the note limits. */
export class NoteBudget {
  readonly skipped: SkippedFile[] = [];
  #notes = 0;
  #bytes = 0;
  readonly #paths = new Set<string>();

  /** True when the file should be read as a note; false when it is skipped (see `skipped`). Throws past the folder limits. */
  admit(path: string, bytes: number): boolean {
    if (!isNotePath(path)) return false;
    if (this.#paths.has(path)) throw new NoteLimitError(`${path}: the same path twice in one folder`);
    if (bytes > MAX_NOTE_BYTES) {
      this.skipped.push({ path, reason: `${count(bytes)} bytes; notes of at most ${count(MAX_NOTE_BYTES)} bytes are indexed` });
      return false;
    }
    if (this.#notes + 1 > MAX_NOTES) throw new NoteLimitError(`the folder has more than ${count(MAX_NOTES)} notes (.md files); the retrieval eval indexes at most ${count(MAX_NOTES)}`);
    if (this.#bytes + bytes > MAX_NOTES_TOTAL_BYTES) {
      throw new NoteLimitError(`the notes add up to more than ${count(MAX_NOTES_TOTAL_BYTES)} bytes (at ${path}); the retrieval eval indexes at most that`);
    }
    this.#paths.add(path);
    this.#notes++;
    this.#bytes += bytes;
    return true;
  }
}

/** A note from a file's path and text. */
export function makeNote(path: string, text: string): Note {
  return { path, title: noteTitle(text, path), text };
}

/** SHA-256 of the note's path, title and text, hex: the index re-reads a note when this changes. */
export async function noteHash(note: Note): Promise<string> {
  return sha256Hex(`${note.path}\n${note.title}\n${note.text}`);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
