// A GGUF export of a stored adapter from the page: merged with the loaded base (f32, f16, Q8_0) or alone
// as a GGUF LoRA, one at a time, with progress, ETA and cancel. The export worker does the work
// (src/app/export-job.ts); this thread only picks the destination, reads the adapter and shows progress.
import { chooseDestination, deliverExport, type ExportedFile } from '../../app/export-file.ts';
import { exportFileName, qmdUsage, type ExportProgress, type GgufExportKind } from '../../app/export-gguf.ts';
import { runExportJob } from '../../app/export-job.ts';
import { messageOf } from '../../app/format.ts';
import { lab } from '../../app/lab.ts';
import { readAdapterFiles } from '../../data/adapters.ts';
import type { StoredAdapter } from '../../data/db.ts';
import { engine } from './engine.svelte.ts';

/** One worker per export (workers/export.worker.ts): the merge and encoding never run on the page's thread. */
const createExportWorker = () => new Worker(new URL('../../../workers/export.worker.ts', import.meta.url), { type: 'module', name: 'qmd-export' });

export interface ExportRun {
  adapterId: string;
  kind: GgufExportKind;
  fileName: string;
  /** null while the base and adapter are opened. */
  progress: ExportProgress | null;
}

export interface ExportDone {
  adapterId: string;
  file: ExportedFile;
  /** The line that runs it in QMD (merged models), null for a LoRA adapter. */
  usage: string | null;
  base: string;
}

class GgufExportState {
  kind = $state<GgufExportKind>('q8_0');
  /** The stored adapter whose export form is open. */
  open = $state<string | null>(null);
  running = $state<ExportRun | null>(null);
  done = $state<ExportDone | null>(null);
  error = $state<string | null>(null);
  #controller: AbortController | null = null;

  toggle(adapter: StoredAdapter): void {
    this.open = this.open === adapter.id ? null : adapter.id;
    this.error = null;
  }

  /** Runs from the click itself: the save dialog needs the user's gesture. */
  async start(adapter: StoredAdapter): Promise<void> {
    const source = engine.modelSource;
    const baseName = engine.model?.name;
    if (!source || !baseName || this.running) return;
    const kind = this.kind;
    const fileName = exportFileName(adapter.name, kind);
    const controller = new AbortController();
    this.#controller = controller;
    this.error = null;
    this.done = null;
    this.running = { adapterId: adapter.id, kind, fileName, progress: null };
    try {
      const destination = await chooseDestination(fileName);
      const files = await readAdapterFiles(await lab(), adapter.id);
      await runExportJob(createExportWorker, { kind, source, adapter: { name: adapter.name, ...files }, destination }, {
        signal: controller.signal,
        onProgress: (progress) => {
          if (this.running) this.running = { ...this.running, progress };
        },
      });
      const file = await deliverExport(destination);
      this.done = { adapterId: adapter.id, file, usage: qmdUsage({ kind, fileName }), base: baseName };
    } catch (error) {
      // A closed save dialog or a cancel is the user's choice, not an error.
      const aborted = error instanceof DOMException && error.name === 'AbortError';
      if (!aborted) this.error = `could not export ${fileName}: ${messageOf(error)}`;
    } finally {
      this.running = null;
      this.#controller = null;
    }
  }

  cancel(): void {
    this.#controller?.abort();
  }
}

export const ggufExport = new GgufExportState();
