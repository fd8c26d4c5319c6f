// Our adapter_config.json against the one PEFT itself writes for the same LoRA. The fixture is
// PEFT's output, regenerated with (pip install peft):
//   python scripts/reference/peft-adapter-config.py > src/model/peft-adapter-config.fixture.json
import { describe, expect, it } from 'vitest';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import fixture from './peft-adapter-config.fixture.json' with { type: 'json' };
import { adapterConfigJson, newAdapter, parseAdapterConfig, PEFT_FORMAT_VERSION, writePeftAdapter, type LoraConfig } from './peft.ts';
import { loraTargets } from './tensors.ts';

const peft = fixture.adapter_config as Record<string, unknown>;

// The LoRA the script gives PEFT: the reference SFT run's.
const ours: LoraConfig = { r: 16, alpha: 32, targets: [...loraTargets], useRslora: false, dropout: 0, baseModel: 'Qwen/Qwen3-0.6B' };

const sortedTargets = (json: Record<string, unknown>) => ({ ...json, target_modules: [...(json.target_modules as string[])].sort() });

describe('adapter_config.json as PEFT writes it', () => {
  it('has exactly the fields PEFT writes, sorted as PEFT sorts them', () => {
    const keys = Object.keys(adapterConfigJson(ours));
    expect(keys).toEqual(Object.keys(peft).sort());
    expect(keys).toEqual([...keys].sort());
  });

  it("has PEFT's values for the same LoRA, base model included (target_modules is a set in PEFT: order aside)", () => {
    expect(sortedTargets(adapterConfigJson(ours))).toEqual(sortedTargets(peft));
    expect(PEFT_FORMAT_VERSION).toBe(fixture.versions.peft);
  });

  it("reads PEFT's file back as the same LoRA, and the file we write reads back as ours", () => {
    expect(parseAdapterConfig(peft, 'fixture')).toEqual(ours);
    const adapter = newAdapter(tinyModelConfig(), { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed: 1, baseModel: 'Qwen/Qwen3-0.6B' });
    const written = JSON.parse(writePeftAdapter(adapter, tinyModelConfig()).configJson) as Record<string, unknown>;
    expect(Object.keys(written)).toEqual(Object.keys(peft).sort());
    expect(written).toMatchObject({ base_model_name_or_path: 'Qwen/Qwen3-0.6B', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] });
    expect(parseAdapterConfig(written)).toEqual(adapter.config);
  });
});
