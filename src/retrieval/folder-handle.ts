// A notes folder chosen with the File System Access API (`showDirectoryPicker`, Chromium): its
// handle is kept with the stored index, so after a reload the page reads the folder again
// (once the user grants read access again, if the browser asks) and re-indexes the changed
// notes. Directory upload stays the way in elsewhere. The walk is folder-node.ts's: hidden and
// excluded folders are not entered, entries are counted, and files become the PickedFiles a
// directory upload gives (the folder's name first), so both paths index alike.
import type { PickedFile } from './folder-files.ts';
import { count, MAX_FOLDER_ENTRIES } from './limits.ts';
import { isIgnoredFolder, NoteLimitError } from './notes.ts';

/** What the walk needs of a FileSystemFileHandle. */
export interface FileEntry {
  kind: 'file';
  name: string;
  getFile(): Promise<{ size: number; text(): Promise<string> }>;
}

/** What the walk needs of a FileSystemDirectoryHandle. */
export interface FolderEntry {
  kind: 'directory';
  name: string;
  values(): AsyncIterable<FileEntry | FolderEntry>;
}

/** What the page needs to ask for read access again (FileSystemHandle's permission methods). */
export interface PermissionHandle {
  queryPermission(options: { mode: 'read' }): Promise<PermissionState>;
  requestPermission(options: { mode: 'read' }): Promise<PermissionState>;
}

/** Every file under `root` that a directory upload of it would give, in path order. */
export async function filesOfFolder(root: FolderEntry): Promise<PickedFile[]> {
  const files: PickedFile[] = [];
  let entries = 0;
  const walk = async (folder: FolderEntry, prefix: string): Promise<void> => {
    const children: (FileEntry | FolderEntry)[] = [];
    for await (const child of folder.values()) {
      if (++entries > MAX_FOLDER_ENTRIES) throw new NoteLimitError(`${root.name}: more than ${count(MAX_FOLDER_ENTRIES)} files and folders; the retrieval eval looks at most at that many`);
      children.push(child);
    }
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) {
      const path = `${prefix}/${child.name}`;
      if (child.kind === 'directory') {
        if (!isIgnoredFolder(child.name)) await walk(child, path);
        continue;
      }
      // Only .md files are opened (their size is known only then); the budget decides whether they are read.
      if (!child.name.toLowerCase().endsWith('.md')) continue;
      const file = await child.getFile();
      files.push({ name: child.name, webkitRelativePath: path, size: file.size, text: () => file.text() });
    }
  };
  await walk(root, root.name);
  return files;
}

/** 'granted' when the folder can be read now: asks the user only when `interactive` (a click). */
export async function readAccess(handle: PermissionHandle, interactive: boolean): Promise<PermissionState> {
  const state = await handle.queryPermission({ mode: 'read' });
  if (state === 'granted' || !interactive) return state;
  return handle.requestPermission({ mode: 'read' });
}
