// `qmd export-data --data FILE.jsonl --config FILE.yaml --out DIR [--base MODEL]`: the dataset as
// QMD's dataset/prepare_data.py writes data/train/, and the settings as QMD's trainer config, laid
// out as tobi/qmd's finetune/ folder holds them (src/data/export-qmd.ts), so that in that folder
// `uv run train.py sft --config configs/qmd-lab.yaml` trains what qmd-lab would.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportQmdTrainData, exportRowOf, qmdFinetuneFiles, QMD_CONFIG_PATH, type QmdExportRow } from '../data/export-qmd.ts';
import { describeRejection, emptyReport, reportSummary } from '../data/report.ts';
import { formatQmdTrainerConfig, QMD_TRAINER_DIFFERENCES, readTrainConfig } from '../engine/qmd-trainer-config.ts';
import { readSettingsFile } from '../engine/model-dir.ts';
import { promptFormat } from '../model/prompt.ts';
import { datasetFileEntries } from './dataset-file.ts';

const USAGE = 'usage: qmd export-data --data FILE.jsonl --config FILE.yaml --out DIR [--base MODEL]\n';

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, config: { type: 'string', default: 'configs/sft.yaml' }, out: { type: 'string' }, base: { type: 'string' } },
  });
  if (!values.data || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const read = readTrainConfig(await readSettingsFile(values.config), values.config);
  const { config } = read;
  const base = values.base ?? read.base ?? 'Qwen/Qwen3-0.6B';
  // Before the data: a setting QMD's file cannot hold fails (or is said) in a second.
  const qmdConfig = formatQmdTrainerConfig(config, { base });

  const rows: QmdExportRow[] = [];
  const report = emptyReport(values.data);
  for await (const entry of datasetFileEntries(values.data, report)) {
    if (!entry.ok) {
      process.stderr.write(`${values.data}:${entry.line}: skipped: ${describeRejection(entry.rejection)}\n`);
      continue;
    }
    const { query, completion, intent, original } = entry.row;
    rows.push(exportRowOf({ query, completion, intent, original, line: entry.line }));
  }
  process.stderr.write(`${reportSummary(report)}\n`);

  const data = exportQmdTrainData(rows, { split: config.eval.split, seed: config.eval.seed, format: promptFormat(config.promptFormat, `${values.config} (prompt_format)`) });
  for (const [path, text] of qmdFinetuneFiles(data, qmdConfig.text)) {
    await mkdir(dirname(join(values.out, path)), { recursive: true });
    await writeFile(join(values.out, path), text);
  }
  for (const line of [...read.warnings, ...qmdConfig.warnings, ...QMD_TRAINER_DIFFERENCES]) process.stderr.write(`${line}\n`);
  if (data.duplicates > 0) process.stderr.write(`${values.data}: ${data.duplicates} repeated queries left out (QMD de-duplicates by lower-cased query)\n`);
  if (data.empty.length > 0) process.stderr.write(`${values.data}: ${data.empty.length} rows left out with no lex:, vec: or hyde: line (lines ${data.empty.slice(0, 10).join(', ')}${data.empty.length > 10 ? ', …' : ''})\n`);
  if (data.droppedLines > 0) process.stderr.write(`${values.data}: ${data.droppedLines} completion lines that are not lex:/vec:/hyde: pairs left out\n`);
  process.stdout.write(`${JSON.stringify({ train: data.train, val: data.val, out: values.out })}\n`);
  process.stderr.write(`wrote ${values.out}: copy it into tobi/qmd's finetune/ folder, then run: uv run train.py sft --config ${QMD_CONFIG_PATH}\n`);
  return 0;
}
