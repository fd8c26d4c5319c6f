// A checkpoint folder on disk (OUT/checkpoint): its two files (src/engine/checkpoint.ts), each
// written by a rename so that a crash leaves whole files (the reader catches a torn pair).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_JSON, CHECKPOINT_TENSORS, checkpointFiles, type CheckpointTensors } from '../engine/checkpoint.ts';
import type { TrainerState } from '../engine/trainer.ts';
import { openFileSource } from '../model/file-source.ts';
import type { LoraConfig } from '../model/peft.ts';
import { SafetensorsFile } from '../model/safetensors.ts';

export async function writeCheckpointDir(dir: string, checkpoint: { state: TrainerState; lora: LoraConfig }): Promise<void> {
  const { json, tensors } = checkpointFiles(checkpoint);
  await mkdir(dir, { recursive: true });
  for (const [file, data] of [[CHECKPOINT_TENSORS, tensors], [CHECKPOINT_JSON, json]] as const) {
    await writeFile(join(dir, `${file}.partial`), data);
    await rename(join(dir, `${file}.partial`), join(dir, file));
  }
}

/** The checkpoint in `dir`, read by `read` (checkpoint.ts readCheckpoint, grpo-checkpoint.ts readGrpoCheckpoint); `writer` names the command whose folders these are. */
export async function readCheckpointDir<C>(dir: string, read: (json: string, tensors: CheckpointTensors, files: { json: string; tensors: string }) => Promise<C>, writer: string): Promise<C> {
  const files = { json: join(dir, CHECKPOINT_JSON), tensors: join(dir, CHECKPOINT_TENSORS) };
  const json = await readFile(files.json, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error(`${dir}: no ${CHECKPOINT_JSON}: expected a folder that ${writer} --checkpoint-every wrote (OUT/checkpoint)`) : error;
  });
  const source = await openFileSource(files.tensors);
  try {
    return await read(json, await SafetensorsFile.open(source), files);
  } finally {
    await source.close();
  }
}
