// onnxruntime-node counting the tensors a test's code uploads, writes over and releases: what
// "nothing is uploaded per step" and "everything made is released" are checked by.
import { nodeRuntime } from '../engine/runtime-node.ts';
import type { Runtime } from '../engine/runtime.ts';

export function countingRuntime(): { runtime: Runtime; counts: { upload: number; write: number; release: number } } {
  const counts = { upload: 0, write: 0, release: 0 };
  const runtime: Runtime = {
    ...nodeRuntime,
    upload: (t) => (counts.upload++, nodeRuntime.upload(t)),
    write: (t, data) => (counts.write++, nodeRuntime.write(t, data)),
    release: (t) => (counts.release++, nodeRuntime.release(t)),
  };
  return { runtime, counts };
}
