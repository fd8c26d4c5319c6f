// safetensors: 8-byte little-endian header length, a JSON header, then the tensors' bytes back to back.
// Reading goes tensor by tensor through a ByteSource, so a 1.2 GB checkpoint never sits in one buffer
// (and block of rows by block of rows where a tensor alone is large: readRows).
import type { ByteSource } from './byte-source.ts';
import { decodeChecked, dtypeBytes, encodeTensor, storedValues, type StoredDtype, type StoredTensor } from './dtype.ts';
import { staysInFolder } from './file-path.ts';
import { quote } from './quote.ts';

export interface TensorInfo {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

/** What model loaders need from a checkpoint, one file or sharded. */
export interface TensorReader {
  names(): string[];
  info(name: string): TensorInfo;
  /** The tensor as float32 (bf16/f16 widened), row-major in `info(name).shape`. */
  read(name: string): Promise<Float32Array>;
  /**
   * The tensor as stored, unchecked: for a loader that widens (and turns) it in one pass and
   * refuses NaN or ±Infinity on the way (dtype.ts convertInto, nonFiniteError).
   */
  readStored(name: string): Promise<StoredTensor>;
}

/** A reader that also hands out a block of a tensor's rows without the rest (GGUF exports stream that way). */
export interface TensorRowReader extends TensorReader {
  /** Rows [begin, end) of the tensor's first dimension as float32, refused as `read` refuses NaN or ±Infinity. */
  readRows(name: string, begin: number, end: number): Promise<Float32Array>;
}

// The Rust reference implementation refuses headers over 100 MB.
const maxHeaderBytes = 100_000_000;
const isDtype = (v: unknown): v is StoredDtype => v === 'F32' || v === 'F16' || v === 'BF16';

/** Parses and validates the header of a safetensors file of `fileSize` bytes. */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  file: string,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> | null } {
  const dataStart = 8 + headerBytes.byteLength;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new Error(`${file}: header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: header is not a JSON object`);
  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw new Error(`${file}: __metadata__ must map strings to strings`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (!isDtype(dtype)) throw new Error(`${file}: tensor ${name} has dtype ${JSON.stringify(dtype)}, expected F32, F16 or BF16`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${file}: tensor ${name} has shape ${JSON.stringify(shape)}, expected a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new Error(`${file}: tensor ${name} has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const expected = shape.reduce((a: number, d: number) => a * d, 1) * dtypeBytes[dtype];
    if (offsets[1] - offsets[0] !== expected) {
      throw new Error(
        `${file}: tensor ${name} (${dtype} [${shape.join(', ')}]) spans ${offsets[1] - offsets[0]} bytes, expected ${expected}`,
      );
    }
    tensors.push({ name, dtype, shape, begin: dataStart + offsets[0], end: dataStart + offsets[1] });
  }
  // The format forbids holes and overlaps: sorted by offset, each tensor starts where the previous ends.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  for (const tensor of tensors) {
    if (tensor.begin !== cursor) {
      const what = tensor.begin < cursor ? 'overlaps the previous tensor' : 'leaves a gap after the previous tensor';
      throw new Error(`${file}: tensor ${tensor.name} starts at data offset ${tensor.begin - dataStart} and ${what} (expected ${cursor - dataStart})`);
    }
    cursor = tensor.end;
  }
  if (cursor !== fileSize) {
    const last = tensors.at(-1)?.name ?? '(no tensors)';
    throw new Error(`${file}: tensor data ends at byte ${cursor} (after ${last}) but the file has ${fileSize} bytes`);
  }
  return { tensors: new Map(tensors.map((t) => [t.name, t])), metadata };
}

export class SafetensorsFile implements TensorRowReader {
  private constructor(
    private readonly source: ByteSource,
    private readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string> | null,
  ) {}

  /** Reads and validates only the header; tensors are read on demand. */
  static async open(source: ByteSource): Promise<SafetensorsFile> {
    if (source.size < 8) throw new Error(`${source.name}: ${source.size} bytes is too short for a safetensors file`);
    const prefix = await source.read(0, 8);
    const length = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
    if (length > maxHeaderBytes || 8 + length > source.size) {
      throw new Error(`${source.name}: header length ${length} does not fit in a file of ${source.size} bytes`);
    }
    const { tensors, metadata } = parseSafetensorsHeader(await source.read(8, length), source.size, source.name);
    return new SafetensorsFile(source, tensors, metadata);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.source.name}: no tensor ${name}`);
    return info;
  }

  /** The stored bytes of one tensor, undecoded. */
  async readBytes(name: string): Promise<Uint8Array> {
    const { begin, end } = this.info(name);
    return this.source.read(begin, end - begin);
  }

  async readStored(name: string): Promise<StoredTensor> {
    return { ...storedValues(this.info(name).dtype, await this.readBytes(name)), origin: `${this.source.name}: tensor ${name}` };
  }

  /** Refuses a tensor holding NaN or ±Infinity (weights never do; they would turn every logit into NaN). */
  async read(name: string): Promise<Float32Array> {
    return decodeChecked(await this.readStored(name));
  }

  async readRows(name: string, begin: number, end: number): Promise<Float32Array> {
    const info = this.info(name);
    const rows = info.shape[0] ?? 1;
    if (!(Number.isInteger(begin) && Number.isInteger(end) && 0 <= begin && begin <= end && end <= rows)) {
      throw new Error(`${this.source.name}: tensor ${name} has ${rows} rows, asked for rows ${begin} to ${end}`);
    }
    const rowBytes = rows === 0 ? 0 : (info.end - info.begin) / rows;
    const bytes = await this.source.read(info.begin + begin * rowBytes, (end - begin) * rowBytes);
    return decodeChecked({ ...storedValues(info.dtype, bytes), origin: `${this.source.name}: tensor ${name} (rows ${begin} to ${end})` });
  }
}

/** `model.safetensors.index.json` → tensor name → shard file name. */
export function parseSafetensorsIndex(json: unknown, file = 'model.safetensors.index.json'): Map<string, string> {
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${file}: missing "weight_map" object`);
  }
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors')) {
      throw new Error(`${file}: weight_map[${quote(name)}] is ${quote(shard)}, expected a .safetensors file name`);
    }
    if (!staysInFolder(shard)) {
      throw new Error(`${file}: weight_map[${quote(name)}] is ${quote(shard)}, which leaves the model folder: expected a file name beside the index`);
    }
    map.set(name, shard);
  }
  return map;
}

/** A sharded checkpoint as one TensorReader; checks that each shard holds exactly what the index says. */
export async function openShardedCheckpoint(
  index: unknown,
  openShard: (file: string) => Promise<ByteSource>,
  indexFile = 'model.safetensors.index.json',
): Promise<TensorRowReader> {
  const weightMap = parseSafetensorsIndex(index, indexFile);
  const shards = new Map<string, SafetensorsFile>();
  for (const file of new Set(weightMap.values())) shards.set(file, await SafetensorsFile.open(await openShard(file)));
  for (const [file, shard] of shards) {
    for (const name of shard.names()) {
      if (weightMap.get(name) !== file) throw new Error(`${file}: tensor ${name} is not listed for this shard in ${indexFile}`);
    }
  }
  const shardOf = (name: string): SafetensorsFile => {
    const file = weightMap.get(name);
    if (!file) throw new Error(`${indexFile}: no tensor ${name}`);
    return shards.get(file)!;
  };
  for (const name of weightMap.keys()) shardOf(name).info(name);
  return {
    names: () => [...weightMap.keys()],
    info: (name) => shardOf(name).info(name),
    read: (name) => shardOf(name).read(name),
    readStored: (name) => shardOf(name).readStored(name),
    readRows: (name, begin, end) => shardOf(name).readRows(name, begin, end),
  };
}

export interface TensorToWrite {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  data: Float32Array;
}

/**
 * The first bytes of a safetensors file of `tensors` (in the given order, `bytes` each: any dtype
 * the format names, e.g. U8): length prefix and JSON header, padded with spaces to 8 bytes so tensor
 * data starts aligned, as the Rust writer does. Also each tensor's absolute byte range and the file's size.
 */
export function safetensorsHeader(
  tensors: readonly { name: string; dtype: string; shape: readonly number[]; bytes: number }[],
  metadata?: Record<string, string>,
): { bytes: Uint8Array<ArrayBuffer>; ranges: Map<string, { begin: number; end: number }>; size: number } {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const offsets: [string, number, number][] = [];
  let offset = 0;
  for (const { name, dtype, shape, bytes } of tensors) {
    if (name in header) throw new Error(`tensor ${name} is listed twice`);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offsets.push([name, offset, offset + bytes]);
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.byteLength), true);
  out.set(text, 8);
  const ranges = new Map(offsets.map(([name, begin, end]) => [name, { begin: out.byteLength + begin, end: out.byteLength + end }]));
  return { bytes: out, ranges, size: out.byteLength + offset };
}

/** Encodes tensors (in the given order) as a safetensors file. */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const blobs = tensors.map(({ name, dtype, shape, data }) => {
    const count = shape.reduce((a, d) => a * d, 1);
    if (count !== data.length) throw new Error(`tensor ${name}: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
    return encodeTensor(dtype, data);
  });
  const header = safetensorsHeader(
    tensors.map(({ name, dtype, shape }, i) => ({ name, dtype, shape, bytes: blobs[i]!.byteLength })),
    metadata,
  );
  const out = new Uint8Array(header.size);
  out.set(header.bytes, 0);
  tensors.forEach(({ name }, i) => out.set(blobs[i]!, header.ranges.get(name)!.begin));
  return out;
}
