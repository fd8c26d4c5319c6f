// The models the page offers (configs/models.json), checked once: repo ids, kinds, prompt formats.
import { QMD_1_7B_PROMPT, QMD_V4_PROMPT } from '../../data/prompt.ts';
import { checkRepoId } from './resolve.ts';

export type ModelKind = 'base' | 'adapter' | 'merged';

export interface CatalogModel {
  repo: string;
  /** base and merged load full weights; an adapter loads on `baseModel`. */
  kind: ModelKind;
  baseModel: string | null;
  description: string;
  /** A PromptFormat id from src/data/prompt.ts. */
  promptFormat: string;
}

export interface ModelCatalog {
  defaults: { base: string; adapter: string };
  models: CatalogModel[];
}

const promptFormats = [QMD_V4_PROMPT.id, QMD_1_7B_PROMPT.id];
const kinds: ModelKind[] = ['base', 'adapter', 'merged'];

export function parseModelCatalog(json: unknown, source = 'configs/models.json'): ModelCatalog {
  const root = (json ?? {}) as { defaults?: Record<string, unknown>; models?: unknown };
  if (!Array.isArray(root.models)) throw new Error(`${source}: "models" must be a list`);
  const models = root.models.map((entry: Record<string, unknown>, i): CatalogModel => {
    const where = `${source}: models[${i}]`;
    const text = (field: string): string => {
      if (typeof entry[field] !== 'string') throw new Error(`${where}.${field} is ${JSON.stringify(entry[field])}, expected a string`);
      return entry[field];
    };
    const kind = text('kind') as ModelKind;
    if (!kinds.includes(kind)) throw new Error(`${where}.kind is "${kind}", expected one of ${kinds.join(', ')}`);
    const promptFormat = text('prompt_format');
    if (!promptFormats.includes(promptFormat)) {
      throw new Error(`${where}.prompt_format is "${promptFormat}", expected one of ${promptFormats.join(', ')}`);
    }
    const baseModel = kind === 'adapter' ? checkRepoId(text('base_model')) : null;
    return { repo: checkRepoId(text('repo')), kind, baseModel, description: text('description'), promptFormat };
  });
  const find = (field: 'base' | 'adapter', kind: ModelKind): string => {
    const repo = root.defaults?.[field];
    if (!models.some((m) => m.repo === repo && m.kind === kind)) {
      throw new Error(`${source}: defaults.${field} is ${JSON.stringify(repo)}, expected the repo of a listed ${kind} model`);
    }
    return repo as string;
  };
  const defaults = { base: find('base', 'base'), adapter: find('adapter', 'adapter') };
  for (const model of models) {
    if (model.baseModel && !models.some((m) => m.repo === model.baseModel && m.kind === 'base')) {
      throw new Error(`${source}: ${model.repo} has base_model ${model.baseModel}, which is not a listed base model`);
    }
  }
  return { defaults, models };
}
