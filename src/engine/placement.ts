// Which execution provider ORT placed each node on, read from its verbose session log
// (utils.cc VerifyEachNodeIsAssignedToAnEp, the same C++ in onnxruntime-node and -web):
//   " All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 40"
// or, when split, per provider
//   " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2"
//   "  Cast (/model/Cast_3)"
// A node on the CPU EP inside a WebGPU session copies its data GPU → CPU → GPU on every run.

export interface Placements {
  /** Node count per execution provider. */
  counts: Record<string, number>;
  /** Nodes ("OpType (name)") per provider; empty when ORT reported "All nodes placed on". */
  nodes: Record<string, string[]>;
}

export const CPU_EP = 'CPUExecutionProvider';

const header = /(All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/;
const nodeLine = /VerifyEachNodeIsAssignedToAnEp\]? {2,}(\S+ \(.*\))\s*$/;

export function parsePlacements(log: readonly string[]): Placements {
  const counts: Record<string, number> = {};
  const nodes: Record<string, string[]> = {};
  let provider: string | null = null;
  for (const text of log.flatMap((l) => l.split('\n'))) {
    const h = header.exec(text);
    if (h) {
      provider = h[1] === 'Node(s)' ? h[2]! : null;
      counts[h[2]!] = Number(h[3]);
      nodes[h[2]!] = [];
      continue;
    }
    const n = provider ? nodeLine.exec(text) : null;
    if (n && provider) nodes[provider]!.push(n[1]!);
    else provider = null;
  }
  if (Object.keys(counts).length === 0) {
    throw new Error('ORT placement log: no "placed on [...]" line found (is the verbose log reaching the console?)');
  }
  return { counts, nodes };
}

/** Nodes on the CPU EP, or [] when every node runs on the accelerator. */
export function cpuNodes(p: Placements): string[] {
  const count = p.counts[CPU_EP] ?? 0;
  if (count === 0) return [];
  return p.nodes[CPU_EP]!.length > 0 ? p.nodes[CPU_EP]! : [`all ${count} nodes`];
}
