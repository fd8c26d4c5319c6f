// File paths that one file of a model names for another (a shard index's weight_map) or that a
// user types (a hub file): the one rule for what may be opened beside them.

/**
 * Whether `file` stays inside the folder or repo it is resolved against: relative, with no empty,
 * '.' or '..' segment between its separators. Backslashes count as separators, since Windows
 * paths treat them so.
 */
export function staysInFolder(file: string): boolean {
  return file.split(/[/\\]/).every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
