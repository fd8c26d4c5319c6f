// Python's PEFT loads our PEFT export and computes the same logits as our graph. The fixture is what
// transformers + PEFT print for the tiny model and adapter scripts/make-peft-reference.ts writes; this test
// writes the same files from the same seeds (their hashes are in the fixture), reads the adapter back as
// the page and CLI import it, and compares. Regenerate the fixture with the commands in
// scripts/reference/peft_logits.py's header.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePeftReference } from '../../scripts/make-peft-reference.ts';
import { loadAdapter } from '../engine/model-dir.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { Qwen3Session } from '../engine/session.ts';
import fixture from './peft-logits.fixture.json' with { type: 'json' };

/** float32 on both sides, different summation orders: the measured gap is 4.7e-7 of the largest logit. */
const TOLERANCE = 1e-5;

const dir = await mkdtemp(join(tmpdir(), 'peft-logits-'));
let reference: Awaited<ReturnType<typeof writePeftReference>>;
let session: Qwen3Session;

beforeAll(async () => {
  reference = await writePeftReference(dir);
  session = await Qwen3Session.load(nodeRuntime, reference.config, reference.weights);
});
afterAll(async () => {
  await session?.release();
  await rm(dir, { recursive: true, force: true });
});

type Position = (typeof fixture.prompts)[number]['positions'][number];
type Logits = Position['adapter'];

/** Our logits at each of `positions` (indices into `ids`), fed through the KV cache as generation does. */
async function ourLogits(ids: readonly number[], positions: readonly number[]): Promise<Float32Array[]> {
  await session.reset();
  const first = positions[0]!;
  const out = [await session.forward(ids.slice(0, first + 1))];
  for (const p of positions.slice(1)) out.push(await session.forward([ids[p]!]));
  return out;
}

function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

/** The largest gap to Python's values (picked logits and the log-sum-exp over the whole vocabulary) over max |logit|. */
function relativeGap(ours: Float32Array, ids: readonly number[], python: Logits): number {
  const gaps = ids.map((id, i) => Math.abs(ours[id]! - python.logits[i]!));
  gaps.push(Math.abs(logSumExp(ours) - python.logsumexp));
  return Math.max(...gaps) / python.max_abs;
}

function topIds(logits: Float32Array, count: number): number[] {
  return [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, count);
}

describe('Python PEFT on our PEFT export', () => {
  it('the files are the ones the fixture was made from (same seeds, same writer)', async () => {
    const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
    expect(await sha(join(dir, 'model', 'model.safetensors'))).toBe(fixture.files['model.safetensors']);
    expect(await sha(join(dir, 'adapter', 'adapter_model.safetensors'))).toBe(fixture.files['adapter_model.safetensors']);
  });

  it('our import of the export is the adapter that was written, value for value', async () => {
    expect(await loadAdapter(join(dir, 'adapter'), reference.config)).toEqual(reference.adapter);
  });

  it(`logits with the adapter match PEFT's within ${TOLERANCE} of the largest logit, top ${fixture.prompts[0]!.positions[0]!.top.length} ids equal`, async () => {
    await session.setAdapter(await loadAdapter(join(dir, 'adapter'), reference.config));
    let worst = 0;
    for (const prompt of fixture.prompts) {
      expect(prompt.ids).toEqual(reference.prompts.find((p) => p.query === prompt.query)!.ids);
      const ours = await ourLogits(prompt.ids, prompt.positions.map((p) => p.position));
      prompt.positions.forEach((python, i) => {
        worst = Math.max(worst, relativeGap(ours[i]!, python.ids, python.adapter));
        expect(topIds(ours[i]!, python.top.length)).toEqual(python.top);
      });
    }
    console.log(`PEFT logits: largest gap ${worst.toExponential(2)} of max |logit|`);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('without it, the base logits match PEFT with the adapter disabled, and the adapter moved them far beyond the tolerance', async () => {
    await session.setAdapter(null);
    for (const prompt of fixture.prompts) {
      const ours = await ourLogits(prompt.ids, prompt.positions.map((p) => p.position));
      prompt.positions.forEach((python, i) => {
        expect(relativeGap(ours[i]!, python.ids, python.base)).toBeLessThan(TOLERANCE);
        expect(relativeGap(ours[i]!, python.ids, python.adapter)).toBeGreaterThan(100 * TOLERANCE);
      });
    }
  });
});
