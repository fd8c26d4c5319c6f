// The page's one open handle on the lab database, opened on first use and shared by all views.
import { openLab, type LabDatabase } from '../data/db.ts';
import { messageOf } from './format.ts';

let opening: Promise<LabDatabase> | null = null;

export function lab(): Promise<LabDatabase> {
  opening ??= openLab().catch((err: unknown) => {
    opening = null;
    throw new Error(`IndexedDB: could not open the qmd-lab database (${messageOf(err)}); private windows and some browsers block it`);
  });
  return opening;
}
