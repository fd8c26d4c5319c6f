// The adapter being trained, as the decoder runs it, without a round trip through the host:
// GRPO samples its completions with the adapter of the current step. The trainer keeps its
// matrices in PEFT's layout ([r, in], [out, r]) and releases them at each step; the decoder reads
// them transposed (layout.ts). One Transpose graph turns all of them on the device in one run, and
// the session takes over the outputs (Qwen3Session.adoptAdapter), so a later step cannot pull
// them away from under it. Per publish only the scale is uploaded; nothing is downloaded.
import { buildLoraTranspose, decoderLoraInputs } from '../model/qwen3/merge-graph.ts';
import type { DeviceTensor, Session } from './runtime.ts';
import type { Qwen3Session } from './session.ts';
import type { LoraTrainer } from './trainer.ts';

export class TrainedAdapter {
  private constructor(
    private readonly session: Qwen3Session,
    private readonly trainer: LoraTrainer,
    private readonly transpose: Session,
  ) {}

  /** For `trainer`, on `session`'s runtime and model (the trainer's: trainer.ts sessionWeights); builds the Transpose graph. */
  static async create(session: Qwen3Session, trainer: LoraTrainer): Promise<TrainedAdapter> {
    const { r, targets } = trainer.lora;
    const parameters = trainer.parameters;
    for (const { dims: [rows, cols], matrix } of decoderLoraInputs(session.config, targets, r)) {
      const t = parameters[matrix];
      if (t?.dims.join() !== [cols, rows].join()) {
        throw new Error(`TrainedAdapter: the trainer's ${matrix} is ${t ? `[${t.dims.join(', ')}]` : 'missing'}, [${cols}, ${rows}] expected for this session's model (r ${r})`);
      }
    }
    return new TrainedAdapter(session, trainer, await session.runtime.createSession(buildLoraTranspose(session.config, targets, r)));
  }

  /**
   * Makes the trainer's current matrices the session's adapter `id` (replacing, and releasing,
   * what `id` held; clearing the KV cache if `id` runs), transposed on the device. Call after each
   * step to sample with the new adapter; switch to it with session.useAdapter(id).
   */
  async publish(id: string): Promise<void> {
    const out = await this.transpose.run(this.trainer.parameters);
    const transposed: Record<string, DeviceTensor> = {};
    for (const [name, t] of Object.entries(out)) if (t.kind === 'device') transposed[name] = t;
    try {
      await this.session.adoptAdapter(id, this.trainer.lora, transposed);
    } catch (error) {
      for (const t of Object.values(out)) this.session.runtime.release(t);
      throw error;
    }
  }

  /** Releases the Transpose graph; the adapters published stay the session's. */
  async release(): Promise<void> {
    await this.transpose.release();
  }
}
