// A notes folder read from disk (the CLI, tests, the bench): every note path is the folder's own
// name, then the path inside it, as in the page. Symbolic links are not followed; hidden and
// excluded folders are not entered; sizes are checked before a file is read.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { count, MAX_FOLDER_ENTRIES } from './limits.ts';
import { isIgnoredFolder, makeNote, NoteBudget, NoteLimitError, type Note, type SkippedFile } from './notes.ts';

export async function readNoteFolder(dir: string): Promise<{ notes: Note[]; skipped: SkippedFile[] }> {
  const root = resolve(dir);
  if (!(await lstat(root)).isDirectory()) throw new Error(`${dir}: not a folder`);
  const budget = new NoteBudget();
  const found: { path: string; file: string }[] = [];
  let entries = 0;
  const walk = async (folder: string, prefix: string): Promise<void> => {
    const children = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) {
      if (++entries > MAX_FOLDER_ENTRIES) throw new NoteLimitError(`${dir}: more than ${count(MAX_FOLDER_ENTRIES)} files and folders; the retrieval eval looks at most at that many`);
      const file = join(folder, child.name);
      const path = `${prefix}/${child.name}`;
      if (child.isDirectory()) {
        if (!isIgnoredFolder(child.name)) await walk(file, path);
      } else if (child.isFile() && budget.admit(path, (await lstat(file)).size)) found.push({ path, file });
    }
  };
  await walk(root, basename(root));
  // One file at a time: thousands of concurrent opens can run out of file descriptors.
  const notes: Note[] = [];
  for (const { path, file } of found) notes.push(makeNote(path, await readFile(file, 'utf8')));
  return { notes, skipped: budget.skipped };
}
