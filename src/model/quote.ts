// Untrusted values quoted in error messages: short, and true to what was read.

/**
 * `value` as an error message shows it: numbers as JavaScript writes them (JSON.stringify turns
 * Infinity and NaN, which YAML's .inf and JSON's 1e999 produce, into "null"), anything else as
 * JSON, cut to `max` characters so a hostile megabyte string or a deep object stays one line.
 */
export function quote(value: unknown, max = 80): string {
  if (typeof value === 'number') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = `a ${typeof value} that cannot be shown`;
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
