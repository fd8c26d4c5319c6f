// A CLI command's `main` run inside a test: its exit status and everything it wrote to stdout
// and stderr, the real streams restored afterwards whatever happens.
import { vi } from 'vitest';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(main: (args: string[]) => Promise<number>, args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
