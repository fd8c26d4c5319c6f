// The export worker: one GGUF export of the page (src/app/export-job.ts) off the page's thread. It reads
// the base from the download cache (the origin private file system) or the picked files, merges and
// encodes a block of rows at a time (≤ 4 MiB of float32: gguf.ts GGUF_BLOCK_VALUES) and writes the
// destination the page chose; the page terminates it after.
import { openDestinationSink } from '../src/app/export-file.ts';
import { exportWorker, type FromExportWorker, type ToExportWorker } from '../src/app/export-job.ts';
import { OpfsCache } from '../src/model/hub/opfs-cache.ts';

const handle = exportWorker({
  cache: new OpfsCache(),
  openSink: openDestinationSink,
  post: (message: FromExportWorker) => postMessage(message),
});

onmessage = (event: MessageEvent<ToExportWorker>) => handle(event.data);
