// The page's GGUF export writes exactly what `qmd export` writes for the same base and adapter, read
// from the download cache or picked files, streamed with progress; a cancel stops it within a tensor
// and discards the file; missing files and a mismatched adapter are refused by name. The page's two ends
// of the export worker (export-job.ts) are driven in-process, messages cloned as postMessage clones them.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { main as qmdExport } from '../cli/export.ts';
import { MemoryCache } from '../model/hub/cache.ts';
import { newAdapter, writePeftAdapter } from '../model/peft.ts';
import type { ExportDestination } from './export-file.ts';
import { exportWorker, runExportJob, type ExportJob, type ExportWorkerPort, type FromExportWorker, type ToExportWorker } from './export-job.ts';
import { encodeGguf, GGUF_BLOCK_VALUES, qwen3GgufParts, wholeTensorRows, type GgufType } from '../model/gguf.ts';
import { mergedReader } from '../model/merge.ts';
import { qwen3TensorShapes } from '../model/tensors.ts';
import {
  baseModelFiles,
  openExportBase,
  planGgufExport,
  qmdUsage,
  runGgufExport,
  type ExportAdapter,
  type ExportProgress,
  type GgufExportKind,
  type GgufSink,
} from './export-gguf.ts';

const REPO = 'test/tiny-qwen3';
const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const dir = await mkdtemp(join(tmpdir(), 'export-gguf-'));
// `qmd export` names the file after the adapter's folder, the page after the stored adapter.
const adapterDir = join(dir, 'my-lora');
let made: Awaited<ReturnType<typeof makeTinyModel>>;
let adapter: ExportAdapter;
const cache = new MemoryCache();

beforeAll(async () => {
  made = await makeTinyModel(join(dir, 'model'), { seed: 9, intermediate: 128, adapter: { dir: adapterDir, rank: 2, alpha: 4 } });
  for (const file of MODEL_FILES) {
    const bytes = await readFile(join(dir, 'model', file));
    const writer = await cache.write({ repo: REPO, revision: 'main', file }, { size: bytes.byteLength, etag: null, oid: null }, 0);
    await writer.append(bytes);
    await writer.finalize();
  }
  const read = (file: string) => readFile(join(adapterDir, file));
  adapter = { name: 'my-lora', config: await read('adapter_config.json'), weights: await read('adapter_model.safetensors') };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A sink that keeps the bytes and counts its calls. */
function memorySink() {
  const chunks: Uint8Array[] = [];
  /** largestData: the largest write after the first (the header). */
  const calls = { writes: 0, largestData: 0, closed: 0, aborted: 0 };
  const sink: GgufSink = {
    write: async (bytes) => {
      chunks.push(bytes.slice());
      if (calls.writes++ > 0) calls.largestData = Math.max(calls.largestData, bytes.byteLength);
    },
    close: async () => void calls.closed++,
    abort: async () => void calls.aborted++,
  };
  return { sink, calls, bytes: () => Buffer.concat(chunks) };
}

async function cliExport(kind: GgufExportKind): Promise<Buffer> {
  const out = join(dir, `cli-${kind}.gguf`);
  const args = kind === 'lora' ? ['--format', 'gguf-lora'] : ['--dtype', kind];
  expect(await qmdExport(['--model', join(dir, 'model'), '--adapter', adapterDir, ...args, '--out', out])).toBe(0);
  return readFile(out);
}

describe('page GGUF export', () => {
  it.each(['f32', 'f16', 'q8_0', 'lora'] as const)('%s from the download cache: the bytes qmd export writes, streamed', async (kind) => {
    const base = await openExportBase(baseModelFiles({ kind: 'hub', repo: REPO }, cache));
    const plan = await planGgufExport(kind, base, adapter);
    expect(plan.fileName).toBe(`my-lora-${kind}.gguf`);
    const { sink, calls, bytes } = memorySink();
    const progress: ExportProgress[] = [];
    let clock = 0;
    const written = await runGgufExport(plan, sink, { onProgress: (p) => progress.push(p), now: () => (clock += 100) });
    const expected = await cliExport(kind);
    expect(bytes().equals(expected)).toBe(true);
    expect(written).toBe(plan.size);
    expect(calls).toMatchObject({ closed: 1, aborted: 0 });
    expect(progress.at(-1)).toMatchObject({ written: plan.size, total: plan.size, etaSeconds: 0 });
    expect(progress.every((p, i) => i === 0 || p.written > progress[i - 1]!.written)).toBe(true);
    if (kind !== 'lora') {
      // A block of rows at a time: many writes, none but the header (the tokenizer's vocabulary) above a block in f32.
      expect(calls.writes).toBeGreaterThan(made.config.numLayers * 11 + Math.ceil((made.config.vocabSize * made.config.hiddenSize) / GGUF_BLOCK_VALUES));
      expect(calls.largestData).toBeLessThanOrEqual(GGUF_BLOCK_VALUES * 4);
      expect(progress[0]!.etaSeconds).toBeGreaterThan(0);
    }
  });

  it('reads picked files the same way', async () => {
    const files = await Promise.all(MODEL_FILES.map(async (file) => new File([await readFile(join(dir, 'model', file))], file)));
    const base = await openExportBase(baseModelFiles({ kind: 'files', files, name: 'tiny' }, cache));
    const { sink, bytes } = memorySink();
    await runGgufExport(await planGgufExport('f32', base, adapter), sink);
    expect(bytes().equals(await readFile(join(dir, 'cli-f32.gguf')))).toBe(true);
  });

  it('a cancel stops before the next write, reads no further block, and discards the file', async () => {
    const files = baseModelFiles({ kind: 'hub', repo: REPO }, cache);
    const base = await openExportBase(files);
    let reads = 0;
    const counted = { ...base, readRows: (name: string, begin: number, end: number) => (reads++, base.readRows(name, begin, end)) };
    const plan = await planGgufExport('f16', counted, adapter);
    const controller = new AbortController();
    const { sink, calls } = memorySink();
    const run = runGgufExport(plan, sink, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toMatchObject({ writes: 1, closed: 0, aborted: 1 });
    expect(reads).toBeLessThanOrEqual(1);
  });

  it('refuses a file missing from the cache, and an adapter for another model, naming them', async () => {
    const empty = new MemoryCache();
    await expect(openExportBase(baseModelFiles({ kind: 'hub', repo: REPO, revision: 'v2' }, empty))).rejects.toThrow(
      `${REPO}@v2/config.json is not in this browser's download cache: load ${REPO} again, then export`,
    );
    const base = await openExportBase(baseModelFiles({ kind: 'hub', repo: REPO }, cache));
    const other = tinyOtherAdapter();
    await expect(planGgufExport('f32', base, other)).rejects.toThrow('wide/adapter_model.safetensors: tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight has shape [2, 96], expected [2, 64]');
  });

  it('gives the QMD line for a merged model, none for a LoRA adapter', () => {
    expect(qmdUsage({ kind: 'q8_0', fileName: 'my-lora-q8_0.gguf' })).toBe('QMD_GENERATE_MODEL=/path/to/my-lora-q8_0.gguf qmd query "…"');
    expect(qmdUsage({ kind: 'f32', fileName: 'x.gguf' }, "/home/me/My Models/x.gguf")).toBe(`QMD_GENERATE_MODEL='/home/me/My Models/x.gguf' qmd query "…"`);
    expect(qmdUsage({ kind: 'lora', fileName: 'my-lora-lora.gguf' })).toBeNull();
  });
});

describe('streamed by blocks of rows', () => {
  /** The base from the cache, counting the reads of its tensor file and the blocks of rows it hands out. */
  async function countedBase() {
    const files = baseModelFiles({ kind: 'hub', repo: REPO }, cache);
    const seen = { reads: 0, largestRead: 0, blocks: 0, largestBlock: 0 };
    const counting = {
      ...files,
      async open(file: string) {
        const source = await files.open(file);
        if (file !== 'model.safetensors') return source;
        return { name: source.name, size: source.size, read: (offset: number, length: number) => (seen.reads++, (seen.largestRead = Math.max(seen.largestRead, length)), source.read(offset, length)) };
      },
    };
    const base = await openExportBase(counting);
    // Opening reads the safetensors header: only the reads of tensor data count.
    Object.assign(seen, { reads: 0, largestRead: 0 });
    const readRows = async (name: string, begin: number, end: number) => {
      const rows = await base.readRows(name, begin, end);
      seen.blocks++;
      seen.largestBlock = Math.max(seen.largestBlock, rows.length);
      return rows;
    };
    return { base: { ...base, readRows }, seen };
  }

  /** The file as written before streaming by blocks: each merged tensor read whole and encoded whole. */
  async function wholeTensorFile(type: GgufType, tokenizer: Awaited<ReturnType<typeof openExportBase>>['tokenizerMetadata']): Promise<Buffer> {
    const read = mergedReader(async (n) => made.weights.get(n)!, made.adapter!, made.config);
    const { metadata, tensors } = qwen3GgufParts(made.config, wholeTensorRows(made.config, read), await tokenizer(), { type, name: adapter.name });
    const names = [...qwen3TensorShapes(made.config).keys()];
    return Buffer.from(encodeGguf(metadata, await Promise.all(tensors.map(async ({ name, shape, type: t }, i) => ({ name, shape, type: t, data: await read(names[i]!) })))));
  }

  // 4,000 values: 62 rows of the 64-wide matrices a block (q_proj's 64 in two, gate_proj's 128 in three), 31 of down_proj's 128-wide.
  const BLOCK = 4000;
  // f16 encodes value by value as f32 does; Q8_0 by 32 values along a row: these two cover how blocks could differ.
  it.each([['f32', 'F32'], ['q8_0', 'Q8_0']] as const)('%s: the bytes of whole-tensor encoding, holding at most a block of rows', async (kind, type) => {
    const { base, seen } = await countedBase();
    const { sink, calls, bytes } = memorySink();
    await runGgufExport(await planGgufExport(kind, base, adapter, BLOCK), sink);
    expect(bytes().equals(await wholeTensorFile(type, base.tokenizerMetadata))).toBe(true);
    const { vocabSize, hiddenSize } = made.config;
    const embeddingBlocks = Math.ceil(vocabSize / Math.floor(BLOCK / hiddenSize));
    expect(seen.blocks).toBeGreaterThan(embeddingBlocks);
    expect(seen.reads).toBe(seen.blocks);
    // Stored float32: a block's bytes, its values and its encoding each within 4,000 values; before, the embedding was read whole (38.9 MB).
    expect(seen.largestRead).toBeLessThanOrEqual(BLOCK * 4);
    expect(seen.largestBlock).toBeLessThanOrEqual(BLOCK);
    expect(calls.largestData).toBeLessThanOrEqual(BLOCK * 4);
  });
});

/**
 * A worker run in this process: messages each way are structured-cloned (transfers detach the sender's
 * buffers) and delivered on a later task, as postMessage does; after terminate() nothing more arrives.
 */
function inProcessWorker(sinks: ReturnType<typeof memorySink>[], modelCache = cache) {
  const seen = { opened: 0, terminated: 0, received: [] as ToExportWorker['type'][], sent: [] as FromExportWorker['type'][] };
  const port: ExportWorkerPort = {
    onmessage: null,
    onerror: null,
    postMessage(message, transfer) {
      const copy = structuredClone(message, { transfer });
      setTimeout(() => seen.terminated === 0 && (seen.received.push(copy.type), handle(copy)));
    },
    terminate: () => void seen.terminated++,
  };
  const handle = exportWorker({
    cache: modelCache,
    openSink: async () => (seen.opened++, sinks[seen.opened - 1]!.sink),
    post: (message) => {
      const copy = structuredClone(message);
      setTimeout(() => seen.terminated === 0 && (seen.sent.push(copy.type), port.onmessage?.({ data: copy } as MessageEvent<FromExportWorker>)));
    },
  });
  return { port, seen };
}

describe('the export worker job', () => {
  const destination: ExportDestination = { via: 'storage', fileName: 'my-lora-f32.gguf' };
  const job = (kind: GgufExportKind): ExportJob => ({
    kind,
    source: { kind: 'hub', repo: REPO },
    // Fresh copies: the job moves them to the worker.
    adapter: { name: adapter.name, config: new Uint8Array(adapter.config), weights: new Uint8Array(adapter.weights) },
    destination,
  });

  it('writes the bytes qmd export writes, reports progress, moves the adapter and ends the worker', async () => {
    const out = memorySink();
    const { port, seen } = inProcessWorker([out]);
    const sent = job('f32');
    const progress: ExportProgress[] = [];
    const written = await runExportJob(() => port, sent, { onProgress: (p) => progress.push(p) });
    expect(out.bytes().equals(await cliExport('f32'))).toBe(true);
    expect(written).toBe(out.bytes().byteLength);
    expect(out.calls).toMatchObject({ closed: 1, aborted: 0 });
    expect(progress).toHaveLength(out.calls.writes);
    expect(progress.at(-1)).toMatchObject({ written, total: written });
    // Transferred, not copied: the page's adapter bytes are gone once posted.
    expect([sent.adapter.config.byteLength, sent.adapter.weights.byteLength]).toEqual([0, 0]);
    expect(seen).toMatchObject({ opened: 1, terminated: 1, received: ['start'], sent: [...progress.map(() => 'progress'), 'done'] });
  });

  it('a cancel reaches the worker, which stops within a write and discards the file; the page gets an AbortError', async () => {
    const out = memorySink();
    const { port, seen } = inProcessWorker([out]);
    const controller = new AbortController();
    const run = runExportJob(() => port, job('f16'), { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen.received).toEqual(['start', 'cancel']);
    expect(out.calls.closed).toBe(0);
    expect(out.calls.aborted).toBe(1);
    // The cancel message crosses while the next tensor is prepared: at most one more write lands.
    expect(out.calls.writes).toBeLessThanOrEqual(2);
    expect(seen.terminated).toBe(1);
  });

  it('a base that cannot be read is refused by name before the destination is opened', async () => {
    const { port, seen } = inProcessWorker([], new MemoryCache());
    await expect(runExportJob(() => port, job('q8_0'))).rejects.toThrow(`${REPO}@main/config.json is not in this browser's download cache`);
    expect(seen).toMatchObject({ opened: 0, terminated: 1, sent: ['failed'] });
  });

  it('a worker that cannot start is an error that says so', async () => {
    const port: ExportWorkerPort = { onmessage: null, onerror: null, postMessage: () => setTimeout(() => port.onerror?.({ message: '' } as ErrorEvent)), terminate: () => {} };
    await expect(runExportJob(() => port, job('lora'))).rejects.toThrow('the export worker stopped: it could not start or crashed');
  });
});

/** An adapter for a model of hidden 96: its q_proj A has 96 columns where ours has 64. */
function tinyOtherAdapter(): ExportAdapter {
  const wide = { ...made.config, hiddenSize: 96 };
  const written = writePeftAdapter(newAdapter(wide, { r: 2, alpha: 4, targets: ['q_proj'], seed: 3 }), wide);
  return { name: 'wide', config: new TextEncoder().encode(written.configJson), weights: written.safetensors };
}
