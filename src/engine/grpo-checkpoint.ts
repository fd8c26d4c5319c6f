// A GRPO run's checkpoint (grpo-protocol.ts GrpoCheckpoint) on disk: the two files of a training
// checkpoint (checkpoint.ts: the trainer state as safetensors, the rest as JSON), read back with
// each GRPO field checked; and what a run makes from one: the adapter its state holds (a rollback
// hands that back) and the fingerprint naming the SFT adapter it was trained on top of.
import type { Qwen3Config } from '../model/config.ts';
import type { LoraAdapter, LoraConfig } from '../model/peft.ts';
import * as names from '../model/qwen3/names.ts';
import { loraSites, loraTargets } from '../model/tensors.ts';
import { hashInts } from '../random.ts';
import { CHECKPOINT_JSON, CHECKPOINT_TENSORS, CHECKPOINT_VERSION, readCheckpointParts, type CheckpointTensors } from './checkpoint.ts';
import type { GrpoConfig } from './grpo-config.ts';
import type { GrpoCheckpoint, GrpoGuardSettings, GrpoStep } from './grpo-protocol.ts';
import type { TrainerState } from './trainer.ts';

/** A checkpoint from its two files, each field checked (errors name the file and field); the tensors are checked when a trainer is made from them. */
export async function readGrpoCheckpoint(json: string, tensors: CheckpointTensors, files = { json: CHECKPOINT_JSON, tensors: CHECKPOINT_TENSORS }): Promise<GrpoCheckpoint> {
  const { fields: o, lora, state, fail, count } = await readCheckpointParts(json, tensors, files);
  if (o.kind !== 'grpo') fail('kind', '"grpo" (a checkpoint qmd grpo wrote; qmd train --resume reads those of qmd train)');
  const totalSteps = count(o.totalSteps, 'totalSteps', 1);
  if (state.step > totalSteps) fail('step', `at most totalSteps (${totalSteps})`);
  const maxSteps = o.maxSteps === null ? null : count(o.maxSteps, 'maxSteps', 1);
  const data = o.data as Record<string, unknown> | null;
  if (typeof data !== 'object' || data === null || typeof data.fingerprint !== 'string') fail('data', '{ "examples", "fingerprint" }');
  const sft = o.sft as Record<string, unknown> | null;
  if (sft !== null && (typeof sft !== 'object' || typeof sft.name !== 'string' || typeof sft.fingerprint !== 'string')) fail('sft', 'null or { "name", "fingerprint" }');
  if (!Array.isArray(o.metrics) || o.metrics.length !== state.step) fail('metrics', `a list of ${state.step} step records`);
  const config = o.config as Record<string, unknown> | null;
  if (typeof config !== 'object' || config === null || typeof config.train !== 'object' || typeof config.grpo !== 'object') fail('config', '{ "train", "grpo" }');
  const guard = o.guard as Record<string, unknown> | null;
  if (typeof guard !== 'object' || guard === null || !['maxHardFailRate', 'windowGroups', 'maxKl'].every((k) => typeof guard[k] === 'number')) fail('guard', '{ "maxHardFailRate", "windowGroups", "maxKl" }');
  return {
    version: CHECKPOINT_VERSION,
    kind: 'grpo',
    config: config as unknown as GrpoConfig,
    guard: guard as unknown as GrpoGuardSettings,
    maxSteps,
    totalSteps,
    lora,
    data: { examples: count(data!.examples, 'data.examples', 1), fingerprint: data!.fingerprint as string },
    sft: sft === null ? null : { name: sft.name as string, fingerprint: sft.fingerprint as string },
    metrics: o.metrics as GrpoStep[],
    state,
  };
}

/** The LoRA matrices of a trainer state (copies: the state stays as it is). */
export function adapterFromState(model: Qwen3Config, lora: LoraConfig, state: TrainerState): LoraAdapter {
  const layers: LoraAdapter['layers'] = Array.from({ length: model.numLayers }, () => ({}));
  for (const { layer, target } of loraSites(model, lora.targets)) {
    const read = (name: string) => {
      const t = state.tensors[name];
      if (!t) throw new Error(`adapterFromState: the state of step ${state.step} has no ${name}`);
      return Float32Array.from(t);
    };
    layers[layer]![target] = { a: read(names.loraA(layer, target)), b: read(names.loraB(layer, target)) };
  }
  return { config: lora, layers };
}

/** Two 32-bit hashes over an adapter's rank, scale and every matrix's bits, as 16 hex digits: names the SFT adapter a run was merged with. */
export function adapterFingerprint(adapter: LoraAdapter): string {
  const { r, alpha, useRslora } = adapter.config;
  const words = (m: Float32Array | Float64Array) => new Uint32Array(m.buffer, m.byteOffset, m.byteLength / 4);
  let a = hashInts(r, useRslora ? 1 : 0, ...words(Float64Array.of(alpha)), 1);
  let b = hashInts(a, 2);
  adapter.layers.forEach((pairs, layer) => {
    loraTargets.forEach((target, t) => {
      const pair = pairs[target];
      if (!pair) return;
      a = hashInts(a, layer, t);
      for (const m of [pair.a, pair.b]) {
        for (const bits of words(m)) {
          a = hashInts(a, bits);
          b = hashInts(b, bits, 7);
        }
      }
    });
  });
  const hex = (h: number) => (h >>> 0).toString(16).padStart(8, '0');
  return hex(a) + hex(b);
}
