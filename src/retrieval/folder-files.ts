// A notes folder the user picked in the page (`<input type=file webkitdirectory>`): each File
// carries its path inside the picked folder, the folder's own name first. Sizes are checked
// before a file is read; paths are those of folder-node.ts, so the CLI and the page index alike.
import { makeNote, NoteBudget, type Note, type SkippedFile } from './notes.ts';

/** What the page needs of a File. */
export interface PickedFile {
  name: string;
  /** "docs/sub/x.md" for a directory upload; empty for a single file. */
  webkitRelativePath: string;
  size: number;
  text(): Promise<string>;
}

export async function readNoteFiles(files: Iterable<PickedFile>): Promise<{ notes: Note[]; skipped: SkippedFile[]; folder: string }> {
  const budget = new NoteBudget();
  const picked = [...files].map((file) => ({ file, path: (file.webkitRelativePath || file.name).replace(/\\/g, '/') }));
  picked.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const notes: Note[] = [];
  for (const { file, path } of picked) if (budget.admit(path, file.size)) notes.push(makeNote(path, await file.text()));
  const folder = picked[0]?.path.includes('/') ? picked[0].path.slice(0, picked[0].path.indexOf('/')) : '';
  return { notes, skipped: budget.skipped, folder };
}
