// The models the page offers (configs/models.json), checked once: repo ids, kinds, prompt formats.
import { PROMPT_FORMAT_IDS, isPromptFormatId, type PromptFormatId } from '../prompt.ts';
import { checkRepoId } from './resolve.ts';

export type ModelKind = 'base' | 'adapter' | 'merged';

export interface CatalogModel {
  repo: string;
  /** base and merged load full weights; an adapter loads on `baseModel`. */
  kind: ModelKind;
  baseModel: string | null;
  description: string;
  /** What the model is asked in (src/model/prompt.ts). */
  promptFormat: PromptFormatId;
}

export interface ModelCatalog {
  defaults: { base: string; adapter: string };
  models: CatalogModel[];
}

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
    if (!isPromptFormatId(promptFormat)) {
      throw new Error(`${where}.prompt_format is "${promptFormat}", expected one of ${PROMPT_FORMAT_IDS.join(', ')}`);
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

/** The prompt format the catalog gives `repo`, or null for a repo it does not list. */
export function catalogPromptFormat(catalog: ModelCatalog, repo: string): PromptFormatId | null {
  // The hub resolves repo ids whatever their case, so a repo typed in lower case is the same model.
  const wanted = repo.trim().toLowerCase();
  return catalog.models.find((m) => m.repo.toLowerCase() === wanted)?.promptFormat ?? null;
}
