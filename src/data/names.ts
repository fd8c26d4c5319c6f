// Names of stored things (datasets, adapters) are unique among their kind: a taken name gets the
// first free " (2)", " (3)"… suffix. Names compare as the user reads them: trimmed, NFC, any case.

const key = (name: string) => name.trim().normalize('NFC').toLowerCase();

/** `wanted` (trimmed), or with the first free " (n)" suffix when a name in `taken` reads the same. */
export function uniqueName(wanted: string, taken: Iterable<string>): string {
  const name = wanted.trim();
  const used = new Set([...taken].map(key));
  if (!used.has(key(name))) return name;
  // "run (2)" taken again becomes "run (3)", not "run (2) (2)".
  const stem = name.replace(/ \((\d+)\)$/, '');
  for (let n = 2; ; n++) {
    const candidate = `${stem} (${n})`;
    if (!used.has(key(candidate))) return candidate;
  }
}
