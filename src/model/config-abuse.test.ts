// Hostile config.json values and checkpoints that disagree with their config: each is refused
// naming the file and field (with the range it must lie in), before any tensor is read.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { QWEN3_06B_CONFIG } from '../testing/qwen3-configs.ts';
import { CONFIG_LIMITS, parseQwen3Config, type Qwen3Config } from './config.ts';
import { seededRandom } from './random.ts';
import { checkCheckpointTensors, LM_HEAD, qwen3TensorShapes } from './tensors.ts';

const SOURCE = 'Qwen3-0.6B/config.json';
const parse = (change: Record<string, unknown>) => parseQwen3Config({ ...QWEN3_06B_CONFIG, ...change }, SOURCE);

describe('config.json bounds', () => {
  it.each(Object.entries(CONFIG_LIMITS))('%s past its bound (%d) is refused with the range', (key, max) => {
    expect(() => parse({ [key]: max + 1 })).toThrow(`${SOURCE}: field "${key}" is ${max + 1}, expected an integer in [1, ${max}]`);
    // JSON's 1e999 parses to Infinity: the message shows it as such, not as JSON.stringify's "null".
    expect(() => parse({ [key]: JSON.parse('1e999') })).toThrow(`field "${key}" is Infinity`);
  });

  it('refuses num_hidden_layers 1e9 at once: parsing never builds the per-layer tensor list', () => {
    expect(() => parse({ num_hidden_layers: 1e9 })).toThrow(`field "num_hidden_layers" is 1000000000, expected an integer in [1, ${CONFIG_LIMITS.num_hidden_layers}]`);
  });

  it.each([
    [{ rms_norm_eps: 0 }, 'field "rms_norm_eps" is 0, expected a positive number below 1'],
    [{ rms_norm_eps: JSON.parse('1e999') }, 'field "rms_norm_eps" is Infinity'],
    [{ rope_theta: JSON.parse('-1e999') }, 'field "rope_theta" is -Infinity'],
    [{ num_key_value_heads: 32 }, 'field "num_key_value_heads" is 32, expected an integer in [1, num_attention_heads 16]'],
    [{ hidden_size: 1024.5 }, 'field "hidden_size" is 1024.5'],
    [{ model_type: 'x'.repeat(100_000) }, '… (100002 characters)'],
  ])('refuses %j', (change, message) => {
    expect(() => parse(change)).toThrow(message);
  });

  it('random mutations of a valid config.json give a clear error or a config within the bounds', () => {
    const random = seededRandom(7);
    const hostile = [0, -1, 1.5, 1e9, 2 ** 53, JSON.parse('1e999'), '16', null, true, [], {}, 'qwen3'];
    const keys = Object.keys(QWEN3_06B_CONFIG);
    let refused = 0;
    for (let i = 0; i < 500; i++) {
      const change: Record<string, unknown> = {};
      for (let k = 0; k < 1 + Math.floor(random.uniform() * 3); k++) {
        change[keys[Math.floor(random.uniform() * keys.length)]!] = hostile[Math.floor(random.uniform() * hostile.length)];
      }
      let config: Qwen3Config;
      try {
        config = parse(change);
      } catch (error) {
        refused++;
        expect((error as Error).message.startsWith(`${SOURCE}: `)).toBe(true);
        expect((error as Error).message.length).toBeLessThan(400);
        continue;
      }
      for (const [key, value] of [['hidden_size', config.hiddenSize], ['num_hidden_layers', config.numLayers], ['vocab_size', config.vocabSize], ['head_dim', config.headDim]] as const) {
        expect(Number.isInteger(value) && value >= 1 && value <= CONFIG_LIMITS[key]).toBe(true);
      }
      expect(Number.isFinite(config.rmsNormEps) && Number.isFinite(config.ropeTheta)).toBe(true);
    }
    expect(refused).toBeGreaterThan(300);
  });
});

describe('checkCheckpointTensors', () => {
  const config = tinyModelConfig({ hidden: 16, headDim: 8, heads: 2, kvHeads: 1, intermediate: 32 });
  /** A checkpoint listing: shapes only, and a count of what was asked of it. */
  const listing = (shapes: Map<string, number[]>) => {
    const asked = { info: 0 };
    return {
      asked,
      stored: { names: () => [...shapes.keys()], info: (name: string) => (asked.info++, { shape: shapes.get(name)! }) },
    };
  };

  it('accepts the tensors qwen3TensorShapes lists, and a tied model that still stores lm_head.weight', () => {
    expect(() => checkCheckpointTensors(config, listing(qwen3TensorShapes(config)).stored, 'm')).not.toThrow();
    const withHead = new Map([...qwen3TensorShapes(config), [LM_HEAD, [config.vocabSize, config.hiddenSize]]]);
    expect(() => checkCheckpointTensors(config, listing(withHead).stored, 'm')).not.toThrow();
  });

  it('compares the layer count first, without a look at any shape', () => {
    const { stored, asked } = listing(qwen3TensorShapes(config));
    expect(() => checkCheckpointTensors({ ...config, numLayers: 3 }, stored, 'm/model.safetensors')).toThrow(
      'm/model.safetensors: config.json has num_hidden_layers 3, but the checkpoint holds layers 0 to 1',
    );
    expect(() => checkCheckpointTensors(config, listing(new Map()).stored, 'm')).toThrow('the checkpoint holds no layer tensors');
    expect(asked.info).toBe(0);
  });

  it('names missing, unexpected and misshapen tensors', () => {
    const shapes = qwen3TensorShapes(config);
    const without = new Map(shapes);
    without.delete('model.norm.weight');
    expect(() => checkCheckpointTensors(config, listing(without).stored, 'm')).toThrow('m: missing tensor model.norm.weight (expected by config.json)');
    const extra = new Map([...shapes, ['model.layers.0.self_attn.rotary_emb.inv_freq', [4]], ['x', [1]]]);
    expect(() => checkCheckpointTensors(config, listing(extra).stored, 'm')).toThrow('m: unexpected tensors model.layers.0.self_attn.rotary_emb.inv_freq, x');
    const untiedHead = new Map([...shapes, [LM_HEAD, [config.vocabSize, config.hiddenSize]]]);
    expect(() => checkCheckpointTensors({ ...config, tieWordEmbeddings: false }, listing(shapes).stored, 'm')).toThrow(`missing tensor ${LM_HEAD}`);
    expect(() => checkCheckpointTensors(config, listing(new Map([...untiedHead, [LM_HEAD, [3, 3]]])).stored, 'm')).toThrow(
      `m: tensor ${LM_HEAD} has shape [3, 3], config.json implies [${config.vocabSize}, ${config.hiddenSize}]`,
    );
  });
});
