import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { clearStoredIndex, loadStoredIndex, saveStoredIndex } from './index-store.ts';
import { NoteIndex } from './note-index.ts';
import { makeNote } from './notes.ts';

describe('the stored index (IndexedDB)', () => {
  it('keeps the exported bytes, which open as the same index, until cleared', async () => {
    expect(await loadStoredIndex()).toBeNull();
    const { index } = await NoteIndex.open();
    await index.sync([makeNote('docs/a.md', '# Raft\n\nleader election')]);
    await saveStoredIndex({ bytes: index.bytes(), folder: 'docs', saved: 1 });
    const stored = await loadStoredIndex();
    expect(stored).toMatchObject({ folder: 'docs', saved: 1 });
    const { index: restored, restoreError } = await NoteIndex.open(stored!.bytes);
    expect(restoreError).toBeNull();
    expect(restored.search('leader', 20).map((h) => h.path)).toEqual(['docs/a.md']);
    await clearStoredIndex();
    expect(await loadStoredIndex()).toBeNull();
  });
});
