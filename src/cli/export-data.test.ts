// `qmd export-data` writes what QMD's prepare_data.py writes (its own output: the fixture) plus
// QMD's trainer config; `qmd train --config` takes that config back, as QMD's kind, and trains.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../testing/cli.ts';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import fixture from '../data/export-qmd.fixture.json';
import { parseQmdTrainerConfig } from '../engine/qmd-trainer-config.ts';
import { formatTrainConfig, parseTrainConfig } from '../engine/train-config.ts';
import { main as exportDataMain } from './export-data.ts';
import { main as trainMain } from './train.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-export-data-'));
afterAll(() => rm(dir, { recursive: true, force: true }));


const sftText = readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8');

describe('qmd export-data', () => {
  it("lays out data/train/ as prepare_data.py writes it and configs/qmd-lab.yaml as QMD's trainer config", async () => {
    const data = join(dir, 'rows.jsonl');
    await writeFile(data, fixture.rows.map((r) => JSON.stringify(r)).join('\n') + '\n{"bad": 1}\n');
    const out = join(dir, 'finetune');
    const result = await run(exportDataMain, ['--data', data, '--config', 'configs/sft.yaml', '--out', out]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ train: 9, val: 1, out });
    for (const [name, text] of Object.entries(fixture.files)) expect(await readFile(join(out, 'data/train', name), 'utf8'), name).toBe(text);
    const exported = parseQmdTrainerConfig(await readFile(join(out, 'configs/qmd-lab.yaml'), 'utf8'));
    expect(exported.config).toEqual(parseTrainConfig(sftText));
    expect(exported.base).toBe('Qwen/Qwen3-0.6B');
    expect(result.err).toContain(`${data}:12: skipped:`);
    // The import itself refuses a repeat by case, as QMD's de-duplication would drop it.
    expect(result.err).toContain(`${data}:3: skipped: duplicate at query: the same query (ignoring case) as line 1`);
    expect(result.err).toContain("copy it into tobi/qmd's finetune/ folder, then run: uv run train.py sft --config configs/qmd-lab.yaml");
    expect((await run(exportDataMain, ['--config', 'configs/sft.yaml'])).code).toBe(2);
  });

  it("trains with the exported QMD config on the exported train.jsonl (qmd train reads QMD's kind and its split)", async () => {
    await makeTinyModel(join(dir, 'model'), { seed: 9 });
    const sft = parseTrainConfig(sftText);
    const tiny = formatTrainConfig({ ...sft, lora: { ...sft.lora, r: 2 }, training: { ...sft.training, batchSize: 2, gradAccum: 1, maxLength: 64 } });
    await writeFile(join(dir, 'tiny.yaml'), tiny);
    const data = join(dir, 'rows.jsonl');
    const out = join(dir, 'tiny-finetune');
    expect((await run(exportDataMain, ['--data', data, '--config', join(dir, 'tiny.yaml'), '--out', out, '--base', 'test/tiny'])).code).toBe(0);
    const config = join(out, 'configs/qmd-lab.yaml');
    const trained = join(dir, 'trained');
    const result = await run(trainMain, ['--model', join(dir, 'model'), '--data', join(out, 'data/train/train.jsonl'), '--config', config, '--out', trained, '--max-steps', '1']);
    expect(result.code).toBe(0);
    expect(result.err).toContain(`${config}: kept for QMD's trainer, not used by qmd-lab`);
    expect(result.err).toContain('PEFT modules_to_save: embed_tokens, lm_head');
    const lines = result.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines[0]).toMatchObject({ step: 1 });
    // 9 train rows, QMD's train_test_split(0.1) after shuffle: ⌈0.9⌉ = 1 eval row.
    expect(lines.at(-1)).toMatchObject({ eval_rows: 1 });
    expect(existsSync(join(trained, 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);
});
