// What a q4 load reads and spends on the host with and without the 4-bit copy a previous q4 load
// kept (src/engine/q4-copy.ts), side by side in one run: the checkpoint read, widened and quantized
// (what the first q4 load does, with and without writing the copy) against the copy read back.
// Both read files from disk; the uploads are left out (the same bytes go to the GPU either way).
//
//   npx tsx scripts/make-tiny-model.ts /tmp/q06b --hidden 1024 --layers 28 --heads 16 --kv-heads 8 \
//     --head-dim 128 --intermediate 3072 --bf16          # Qwen3-0.6B's shape, seeded random weights
//   npx tsx bench/q4-copy.ts --model /tmp/q06b [--rounds 3]
import { writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openQ4Copy, q4CopyFile, recordQ4Copy, type CopyPlace } from '../src/engine/q4-copy.ts';
import { weightInputs, type InputSource } from '../src/engine/weight-source.ts';
import type { ByteSource } from '../src/model/byte-source.ts';
import { parseQwen3Config, type Qwen3Config } from '../src/model/config.ts';
import { openFileSource } from '../src/model/file-source.ts';
import { MemoryCache, type CacheKey } from '../src/model/hub/cache.ts';
import { weightLayout, type WeightLayout } from '../src/model/qwen3/layout.ts';
import { SafetensorsFile } from '../src/model/safetensors.ts';
import { qwen3TensorShapes } from '../src/model/tensors.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, rounds: { type: 'string', default: '3' } } });
if (!values.model) throw new Error('--model DIR is required (a Qwen3 folder with config.json and model.safetensors)');
const dir = values.model;
const config: Qwen3Config = parseQwen3Config(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), `${dir}/config.json`);
const layout: WeightLayout = weightLayout(config, { weightDtype: 'q4' });

/** A ByteSource that counts what is read through it. */
const counted = (source: ByteSource, count: { bytes: number }): ByteSource => ({
  name: source.name,
  size: source.size,
  read: (offset, length) => ((count.bytes += length), source.read(offset, length)),
});

/** Every input of `source`, in load order, dropped once made. */
async function drain(source: InputSource): Promise<void> {
  for (const name of qwen3TensorShapes(config).keys()) for await (const _ of source.inputs(name));
}

async function checkpoint(count: { bytes: number }): Promise<{ source: InputSource; close(): Promise<void> }> {
  const file = await openFileSource(join(dir, 'model.safetensors'));
  const reader = await SafetensorsFile.open(counted(file, count));
  return { source: weightInputs(config, layout, { read: (name) => reader.readStored(name) }), close: () => file.close() };
}

// The copy's bytes go to a file, read back through a cache whose get() opens it (OPFS stands in for disk here).
const copyPath = join(tmpdir(), q4CopyFile(layout));
class FileCache extends MemoryCache {
  source: ByteSource | null = null;
  override get = async (_: CacheKey) => this.source;
}

interface Row {
  what: string;
  bytes: number;
  ms: number[];
}
const rows: Row[] = [
  { what: 'checkpoint, quantized (a q4 load without a copy)', bytes: 0, ms: [] },
  { what: 'checkpoint, quantized, copy written (the first q4 load)', bytes: 0, ms: [] },
  { what: 'the copy read back (every later q4 load)', bytes: 0, ms: [] },
];
const loads: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  loads.push(loadavg()[0]!);
  for (const [i, row] of rows.entries()) {
    const count = { bytes: 0 };
    const started = performance.now();
    if (i < 2) {
      const { source, close } = await checkpoint(count);
      if (i === 0) await drain(source);
      else {
        const place: CopyPlace = { cache: new MemoryCache(), repo: 'bench/q06b', revision: 'main', source: 'model.safetensors=bench' };
        const copy = recordQ4Copy(place, config, layout, source);
        await drain(copy.source);
        const dropped = await copy.finish();
        if (dropped) throw new Error(`the copy was dropped: ${dropped}`);
        const kept = (await place.cache.get({ repo: place.repo, revision: place.revision, file: q4CopyFile(layout) }))!;
        writeFileSync(copyPath, await kept.read(0, kept.size));
      }
      await close();
    } else {
      const cache = new FileCache();
      const file = await openFileSource(copyPath);
      cache.source = counted(file, count);
      const kept = await openQ4Copy({ cache, repo: 'bench/q06b', revision: 'main', source: 'model.safetensors=bench' }, config, layout);
      if (!kept) throw new Error('the copy written in this round was not accepted');
      await drain(kept);
      await file.close();
    }
    row.ms.push(performance.now() - started);
    row.bytes = count.bytes;
  }
}
await rm(copyPath, { force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = rows[0]!;
console.log(`model ${dir}: ${config.numLayers} layers, hidden ${config.hiddenSize}; ${values.rounds} rounds, load average ${loads.map((l) => l.toFixed(1)).join(', ')}`);
console.log('| weights from | bytes read | ms (median) | bytes / checkpoint | ms / checkpoint |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) {
  const ms = median(row.ms);
  console.log(`| ${row.what} | ${row.bytes.toLocaleString('en')} | ${ms.toFixed(0)} | ${(row.bytes / base.bytes).toFixed(2)} | ${(ms / median(base.ms)).toFixed(2)} |`);
}
