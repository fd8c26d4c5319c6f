// The placement parser against onnxruntime-node's own verbose log: the same C++ report that
// onnxruntime-web prints in the browser. ORT logs natively to stderr, so a child process runs it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Graph } from '../onnx/index.ts';
import { CPU_EP, cpuNodes, parsePlacements } from './placement.ts';

const script = `
import * as ort from 'onnxruntime-node';
ort.env.logLevel = 'verbose';
const model = Buffer.from(process.argv[1], 'base64');
await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', logSeverityLevel: 0, logVerbosityLevel: 0 });
`;

function verboseLog(model: Uint8Array): string[] {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, Buffer.from(model).toString('base64')], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`onnxruntime-node session failed: ${run.stderr}`);
  return `${run.stdout}\n${run.stderr}`.split('\n');
}

describe('parsePlacements', () => {
  it('counts every node of a graph that onnxruntime-node places on the CPU EP', () => {
    const g = new Graph('placement');
    const x = g.input('x', 'float32', [2, 3]);
    g.output(g.softmax(g.exp(g.add(x, x))), 'y'); // Add, Exp, Softmax
    const model = g.toBytes();
    const placements = parsePlacements(verboseLog(model));
    expect(placements.counts).toEqual({ [CPU_EP]: g.nodes.length });
    expect(cpuNodes(placements)).toEqual([`all ${g.nodes.length} nodes`]);
  });

  it('lists the nodes of each provider when a session is split', () => {
    const prefix = '2026-11-02 [V:onnxruntime:, utils.cc:52 VerifyEachNodeIsAssignedToAnEp]';
    const log = [
      `${prefix} Node placements`,
      `${prefix}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1`,
      `${prefix}   Cast (layer0/Cast)`,
      `${prefix}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 2`,
      `${prefix}   MatMul (layer0/MatMul)`,
      `${prefix}   Softmax (layer0/Softmax)`,
      'unrelated line',
    ];
    const placements = parsePlacements(log);
    expect(placements.counts).toEqual({ [CPU_EP]: 1, WebGpuExecutionProvider: 2 });
    expect(cpuNodes(placements)).toEqual(['Cast (layer0/Cast)']);
    expect(placements.nodes.WebGpuExecutionProvider).toEqual(['MatMul (layer0/MatMul)', 'Softmax (layer0/Softmax)']);
  });

  it('fails loudly when the log holds no placement report', () => {
    expect(() => parsePlacements(['nothing here'])).toThrow(/no "placed on/);
  });
});
