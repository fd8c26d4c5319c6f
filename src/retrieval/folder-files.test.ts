import { describe, expect, it } from 'vitest';
import { readNoteFiles, type PickedFile } from './folder-files.ts';
import { MAX_NOTE_BYTES } from './limits.ts';

/** A File as a directory upload gives it, counting the reads. */
function picked(path: string, text: string, size = new TextEncoder().encode(text).length): PickedFile & { reads: number } {
  const file = { name: path.split('/').pop()!, webkitRelativePath: path, size, reads: 0, text: async () => (file.reads++, text) };
  return file;
}

describe('readNoteFiles', () => {
  it('reads the .md files of a directory upload by path, titles from headings, in path order', async () => {
    const files = [picked('docs/b.md', '# Bee\n'), picked('docs/sub/a.md', 'no heading'), picked('docs/pic.png', 'x'), picked('docs/.git/c.md', '# C')];
    const { notes, skipped, folder } = await readNoteFiles(files);
    expect(folder).toBe('docs');
    expect(notes).toEqual([
      { path: 'docs/b.md', title: 'Bee', text: '# Bee\n' },
      { path: 'docs/sub/a.md', title: 'a', text: 'no heading' },
    ]);
    expect(skipped).toEqual([]);
    expect(files[2]!.reads + files[3]!.reads).toBe(0);
  });

  it('skips a note over the size limit without reading it', async () => {
    const huge = picked('docs/huge.md', '', MAX_NOTE_BYTES + 1);
    const { notes, skipped } = await readNoteFiles([huge, picked('docs/ok.md', '# ok')]);
    expect(notes.map((n) => n.path)).toEqual(['docs/ok.md']);
    expect(skipped.map((s) => s.path)).toEqual(['docs/huge.md']);
    expect(huge.reads).toBe(0);
  });
});
