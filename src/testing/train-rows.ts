// Training rows for the SFT tests on tiny models: what they hold matters less than that the
// tests share them (a tiny random model learns any of them).
import type { TrainRow } from '../engine/protocol.ts';

/** Five rows with hand-written lex and vec lines. */
export const TRAIN_ROWS: readonly TrainRow[] = [
  { query: 'nginx reverse proxy', completion: 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy' },
  { query: 'git rebase onto main', completion: 'lex: git rebase --onto\nvec: rebase a branch onto main' },
  { query: 'sqlite wal mode', completion: 'lex: PRAGMA journal_mode=WAL\nvec: enable write-ahead logging in sqlite' },
  { query: 'rust borrow checker', completion: 'lex: borrow checker lifetimes\nvec: why rust rejects two mutable borrows' },
  { query: 'docker prune images', completion: 'lex: docker image prune\nvec: remove unused docker images' },
];

/** The five rows' queries. */
export const TRAIN_QUERIES = TRAIN_ROWS.map((r) => r.query);

/** One row a query, its completion made from it, numbered from line 1 as a dataset file's rows are. */
export function queryRows(queries: readonly string[]): TrainRow[] {
  return queries.map((query, i) => ({ query, completion: `lex: ${query}\nvec: how to ${query}`, line: i + 1 }));
}
