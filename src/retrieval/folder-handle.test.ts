import { describe, expect, it } from 'vitest';
import { readNoteFiles } from './folder-files.ts';
import { filesOfFolder, readAccess, type FileEntry, type FolderEntry, type PermissionHandle } from './folder-handle.ts';
import { MAX_FOLDER_ENTRIES } from './limits.ts';
import { NoteIndex } from './note-index.ts';

type Tree = { [name: string]: string | Tree };

/** A FileSystemDirectoryHandle over an object tree, counting files opened and folders listed. */
function fakeFolder(name: string, tree: Tree, counts = { opened: 0, listed: [] as string[] }): FolderEntry & { counts: typeof counts } {
  return {
    kind: 'directory',
    name,
    counts,
    async *values() {
      counts.listed.push(name);
      for (const [child, value] of Object.entries(tree)) {
        if (typeof value === 'string') {
          const file: FileEntry = { kind: 'file', name: child, getFile: async () => (counts.opened++, { size: new TextEncoder().encode(value).length, text: async () => value }) };
          yield file;
        } else yield fakeFolder(child, value, counts);
      }
    },
  };
}

describe('a folder picked with the File System Access API', () => {
  it('gives the files a directory upload would, without entering hidden or excluded folders or opening other files', async () => {
    const root = fakeFolder('docs', { 'b.md': '# Bee', 'pic.png': 'x', sub: { 'a.md': 'no heading' }, '.git': { 'c.md': '# C' }, node_modules: { 'd.md': '# D' } });
    const files = await filesOfFolder(root);
    expect(files.map((f) => [f.webkitRelativePath, f.size])).toEqual([['docs/b.md', 5], ['docs/sub/a.md', 10]]);
    expect(root.counts.listed).toEqual(['docs', 'sub']);
    expect(root.counts.opened).toBe(2);
    const { notes, folder } = await readNoteFiles(files);
    expect(folder).toBe('docs');
    expect(notes.map((n) => [n.path, n.title])).toEqual([['docs/b.md', 'Bee'], ['docs/sub/a.md', 'a']]);
  });

  it('re-syncs only what changed in the folder since the last read', async () => {
    const tree: Tree = { 'a.md': '# A', 'b.md': '# B', 'c.md': '# C' };
    const { index } = await NoteIndex.open();
    const read = async () => (await readNoteFiles(await filesOfFolder(fakeFolder('notes', tree)))).notes;
    expect(await index.sync(await read())).toEqual({ added: 3, changed: 0, removed: 0, unchanged: 0 });
    tree['b.md'] = '# B, edited';
    delete tree['c.md'];
    tree['d.md'] = '# D';
    expect(await index.sync(await read())).toEqual({ added: 1, changed: 1, removed: 1, unchanged: 1 });
    index.close();
  });

  it('stops past the entry limit, having listed no more than that', async () => {
    const wide: Tree = Object.fromEntries(Array.from({ length: MAX_FOLDER_ENTRIES + 5 }, (_, i) => [`f${i}.txt`, '']));
    let yielded = 0;
    const root: FolderEntry = {
      kind: 'directory',
      name: 'big',
      async *values() {
        for (const name of Object.keys(wide)) {
          yielded++;
          yield { kind: 'file', name, getFile: async () => ({ size: 0, text: async () => '' }) };
        }
      },
    };
    await expect(filesOfFolder(root)).rejects.toThrow(`big: more than 100,000 files and folders`);
    expect(yielded).toBe(MAX_FOLDER_ENTRIES + 1);
  });

  it('asks the user for read access only on a click', async () => {
    const asked: string[] = [];
    const handle = (state: PermissionState): PermissionHandle => ({
      queryPermission: async () => (asked.push('query'), state),
      requestPermission: async () => (asked.push('request'), 'granted'),
    });
    expect(await readAccess(handle('prompt'), false)).toBe('prompt');
    expect(asked).toEqual(['query']);
    expect(await readAccess(handle('prompt'), true)).toBe('granted');
    expect(await readAccess(handle('granted'), true)).toBe('granted');
    expect(asked).toEqual(['query', 'query', 'request', 'query']);
  });
});
