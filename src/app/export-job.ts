// A GGUF export as a job of the export worker (workers/export.worker.ts), off the page's thread: at
// Qwen3-0.6B each large tensor takes about a second to merge and encode (the embedding alone is
// ~0.6 GB in f32), which would stall the page however small the blocks it goes through. The page sends what to
// export and where (export-file.ts chose the destination from the click); the worker reads the base
// from the download cache or the picked files, runs export-gguf.ts's streaming and posts progress.
// Both ends live here with their messages, so they cannot drift; tests drive both ends in Node.
import type { ModelSource } from '../engine/protocol.ts';
import type { ModelCache } from '../model/hub/cache.ts';
import type { ExportDestination } from './export-file.ts';
import { baseModelFiles, openExportBase, planGgufExport, runGgufExport, type ExportAdapter, type ExportProgress, type GgufExportKind, type GgufSink } from './export-gguf.ts';
import { messageOf } from './format.ts';
import { timeSlices } from '../slices.ts';

export interface ExportJob {
  kind: GgufExportKind;
  source: ModelSource;
  adapter: ExportAdapter;
  destination: ExportDestination;
}

export type ToExportWorker = { type: 'start'; job: ExportJob } | { type: 'cancel' };

export type FromExportWorker =
  | { type: 'progress'; progress: ExportProgress }
  | { type: 'done'; written: number }
  | { type: 'failed'; message: string; aborted: boolean };

/** What the worker's end needs from its surroundings (the browser's, or a test's). */
export interface ExportWorkerScope {
  cache: ModelCache;
  openSink(destination: ExportDestination, size: number): Promise<GgufSink>;
  post(message: FromExportWorker): void;
}

const isAbort = (error: unknown) => error instanceof Error && error.name === 'AbortError';

/**
 * The worker's end, for one job (the page starts a worker per export). The base and adapter are
 * checked before the destination is opened (nothing is written for a base that cannot be read);
 * `cancel` stops before the next write and the sink discards the file.
 */
export function exportWorker(scope: ExportWorkerScope): (message: ToExportWorker) => void {
  let controller: AbortController | null = null;
  return (message) => {
    if (message.type === 'cancel') return controller?.abort();
    const running = new AbortController();
    controller = running;
    void (async () => {
      const { kind, source, adapter, destination } = message.job;
      const plan = await planGgufExport(kind, await openExportBase(baseModelFiles(source, scope.cache)), adapter);
      running.signal.throwIfAborted();
      const sink = await scope.openSink(destination, plan.size);
      // Reads and writes may all resolve as microtasks (a sync access handle, cached blobs): without a
      // turn of the worker's event loop before each write, a cancel message would wait for the end.
      const turn = timeSlices(running.signal, 0);
      const turning: GgufSink = { write: async (bytes) => (await turn(), sink.write(bytes)), close: () => sink.close(), abort: () => sink.abort() };
      const written = await runGgufExport(plan, turning, { signal: running.signal, onProgress: (progress) => scope.post({ type: 'progress', progress }) });
      scope.post({ type: 'done', written });
    })()
      .catch((error: unknown) => scope.post({ type: 'failed', message: messageOf(error), aborted: isAbort(error) }))
      .finally(() => (controller = null));
  };
}

/** The parts of a Worker the page's end uses (a test passes one that runs exportWorker in-process). */
export interface ExportWorkerPort {
  postMessage(message: ToExportWorker, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<FromExportWorker>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  terminate(): void;
}

export interface ExportJobOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ExportProgress) => void;
}

/**
 * The page's end: runs the job in a fresh worker and resolves with the bytes written; a cancel (the
 * signal) rejects with an AbortError once the worker has discarded the file. The adapter's bytes are
 * transferred, not copied; the worker is terminated when the job ends, releasing all it held.
 */
export function runExportJob(createWorker: () => ExportWorkerPort, job: ExportJob, options: ExportJobOptions = {}): Promise<number> {
  options.signal?.throwIfAborted();
  const worker = createWorker();
  return new Promise<number>((resolve, reject) => {
    const cancel = () => worker.postMessage({ type: 'cancel' }, []);
    const end = () => {
      options.signal?.removeEventListener('abort', cancel);
      worker.terminate();
    };
    worker.onmessage = ({ data }) => {
      if (data.type === 'progress') return options.onProgress?.(data.progress);
      end();
      if (data.type === 'done') resolve(data.written);
      else reject(data.aborted ? new DOMException(data.message, 'AbortError') : new Error(data.message));
    };
    worker.onerror = (event) => {
      end();
      reject(new Error(`the export worker stopped: ${event.message || 'it could not start or crashed'}`));
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    // Only a view that owns its whole buffer is moved: a view into a shared one is copied.
    const owned = [job.adapter.config, job.adapter.weights].filter((view) => view.buffer instanceof ArrayBuffer && view.byteLength === view.buffer.byteLength);
    worker.postMessage({ type: 'start', job }, owned.map((view) => view.buffer as ArrayBuffer));
  });
}
