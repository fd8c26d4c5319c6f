// The liveness count on graphs small enough to work out by hand: buffers freed after their last
// reader, reshapes free but keeping their buffer alive, and what the backward pass keeps.
import { describe, expect, it } from 'vitest';
import { grad } from './grad.ts';
import { liveness } from './liveness.ts';
import { Graph } from './ops.ts';

describe('liveness', () => {
  it('frees each buffer after its last reader; a reshape costs nothing and keeps its buffer alive', () => {
    const g = new Graph('live');
    const x = g.input('x', 'float32', [4, 8]); // 128 bytes, resident: not counted
    const a = g.exp(x); // 128
    const b = g.reshape(a, [8, 4]); // a's buffer
    const c = g.sin(g.reshape(x, [8, 4])); // 128 (the reshape of an input is free)
    const d = g.neg(c); // 128: a, c, d alive; c dies here
    g.output(g.add(b, d), 'y'); // 128: a, d die here
    const live = liveness(g);
    expect(live.peakBytes).toBe(3 * 128);
    expect(live.peakNode).toBe(g.nodes.find((n) => n.opType === 'Neg')!.name);
    expect(live.atPeak.map((v) => v.name).sort()).toEqual([a.name, c.name, d.name].sort());
    expect(live.kept).toEqual([]);
  });

  it('lists the forward values the backward reads, and only those', () => {
    const g = new Graph('kept');
    const x = g.input('x', 'float32', [4, 8]);
    const w = g.input('w', 'float32', [4, 8]);
    const e = g.exp(x); // d(Σ e·w)/dw = e: kept
    const s = g.mul(e, w); // read by nobody backward
    const loss = g.reduceSum(s, [0, 1]);
    g.output(grad(g, loss, [w])[0]!, 'dw');
    const live = liveness(g);
    expect(live.kept.map((v) => v.name)).toEqual([e.name]);
    expect(live.kept[0]).toMatchObject({ shape: [4, 8], bytes: 128 });
  });

  it("grad's recompute: the backward casts a float16 weight again instead of keeping the forward's cast", () => {
    const keptCasts = (recompute: boolean) => {
      const g = new Graph('recast');
      const w = g.input('w', 'float16', [8, 8]);
      const a = g.input('a', 'float32', [4, 8]);
      const y = g.matMul(g.matMul(a, g.cast(w, 'float32')), g.cast(w, 'float32')); // dy/da reads both casts
      g.output(grad(g, g.reduceSum(y, [0, 1]), [a], undefined, recompute ? { recompute: (n) => n.op === 'Cast' } : {})[0]!, 'da');
      const recast = g.nodes.filter((n) => n.opType === 'Cast' && n.name.startsWith('grad/')).length;
      return { recast, kept: liveness(g).kept.filter((v) => v.node.endsWith('Cast') || /Cast_\d+$/.test(v.node)).length };
    };
    expect(keptCasts(false)).toEqual({ recast: 0, kept: 2 });
    expect(keptCasts(true)).toEqual({ recast: 2, kept: 0 });
  });

  it('refuses symbolic shapes, naming the value', () => {
    const g = new Graph('symbolic');
    g.output(g.exp(g.input('x', 'float32', ['T', 8])), 'y');
    expect(() => liveness(g)).toThrow('liveness: y has symbolic shape [T, 8]; a peak needs static shapes');
  });
});
