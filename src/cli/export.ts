// `qmd export --model DIR [--adapter DIR] --dtype f32|f16|q8_0 --out FILE.gguf`: the model (merged with
// the adapter when given) as one GGUF file, what QMD runs through node-llama-cpp
// (QMD_GENERATE_MODEL=FILE.gguf). Streamed: a block of rows in memory at a time, never a whole tensor.
// `qmd export --model DIR --adapter DIR --format gguf-lora --out FILE.gguf`: the adapter alone as a
// llama.cpp LoRA adapter, for a base GGUF of the same model.
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAdapter, modelTokenizerJson, openModel } from '../engine/model-dir.ts';
import { ggufDtypes, loraGguf, qmdGenerateLine, qwen3GgufParts, writeGguf } from '../model/gguf.ts';
import { qwen3TokenizerMetadata } from '../model/gguf-tokenizer.ts';
import { mergedRows } from '../model/merge.ts';

const USAGE =
  'usage: qmd export --model DIR [--adapter DIR] [--dtype f32|f16|q8_0] --out FILE.gguf\n' +
  '       qmd export --model DIR --adapter DIR --format gguf-lora --out FILE.gguf\n';

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string' },
      dtype: { type: 'string', default: 'f16' },
      format: { type: 'string', default: 'gguf' },
      out: { type: 'string' },
    },
  });
  const type = Object.hasOwn(ggufDtypes, values.dtype) ? ggufDtypes[values.dtype as keyof typeof ggufDtypes] : undefined;
  const lora = values.format === 'gguf-lora';
  if (!values.model || !values.out || !type || (values.format !== 'gguf' && !lora) || (lora && !values.adapter)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const model = await openModel(values.model);
  try {
    const adapter = values.adapter ? await loadAdapter(values.adapter, model.config) : null;
    if (lora) {
      await writeFile(values.out, loraGguf(adapter!, model.config));
      process.stderr.write(`wrote GGUF LoRA adapter ${values.out}: load it beside a GGUF of ${values.model}\n`);
      return 0;
    }
    const { tokenizer, tokenizerConfig, file } = await modelTokenizerJson(values.model);
    const name = basename(values.adapter ?? values.model);
    const { metadata, tensors } = qwen3GgufParts(
      model.config,
      mergedRows((n, begin, end) => model.readRows(n, begin, end), adapter, model.config),
      qwen3TokenizerMetadata(tokenizer, tokenizerConfig, model.config, file),
      { type, name },
    );
    // Written beside the target and renamed when complete: a cut-short export never looks finished.
    const partial = `${values.out}.partial`;
    const handle = await open(partial, 'w');
    let size: number;
    try {
      size = await writeGguf(async (bytes) => {
        for (let at = 0; at < bytes.byteLength; ) at += (await handle.write(bytes, at)).bytesWritten;
      }, metadata, tensors);
    } catch (error) {
      await handle.close();
      await rm(partial, { force: true });
      throw error;
    }
    await handle.close();
    await rename(partial, values.out);
    process.stderr.write(
      `wrote ${values.out} (${(size / 2 ** 20).toFixed(1)} MiB, ${values.dtype}${adapter ? ', adapter merged' : ''})\n` +
        `use it in QMD: ${qmdGenerateLine(resolve(values.out))}\n` +
        `  (models.generate in QMD's index.yml, when set, wins over the variable: put this path there instead)\n`,
    );
    return 0;
  } finally {
    await model.close();
  }
}
