// Which prompt format a model loads with: the user's explicit choice, else the catalog's format
// for a listed hub repo (configs/models.json), else the default. The load request carries it, and
// the worker asks every generation on that model in it (workers/engine.worker.ts).
import { catalogPromptFormat, type ModelCatalog } from '../../model/hub/catalog.ts';
import type { LoadDtype } from '../../model/hub/estimate.ts';
import { DEFAULT_PROMPT_FORMAT, type PromptFormatId } from '../../model/prompt.ts';
import type { ModelSource, Request } from '../../engine/protocol.ts';

/** 'catalog': the model's own format when the catalog lists it; else a format id the user picked. */
export type PromptChoice = 'catalog' | PromptFormatId;

export interface ChosenFormat {
  id: string;
  /** Why this format: what the model panel says after the id. */
  from: 'chosen' | 'catalog' | 'default';
}

export function chooseFormat(catalog: ModelCatalog, source: ModelSource, choice: PromptChoice): ChosenFormat {
  if (choice !== 'catalog') return { id: choice, from: 'chosen' };
  const listed = source.kind === 'hub' ? catalogPromptFormat(catalog, source.repo) : null;
  return listed ? { id: listed, from: 'catalog' } : { id: DEFAULT_PROMPT_FORMAT.id, from: 'default' };
}

/** The load-model request for `source`, with the format `choice` gives it (and why, for the panel). */
export function loadModelRequest(
  catalog: ModelCatalog,
  source: ModelSource,
  options: { weights: LoadDtype; choice: PromptChoice },
): { request: Extract<Request, { type: 'load-model' }>; format: ChosenFormat } {
  const format = chooseFormat(catalog, source, options.choice);
  return { request: { type: 'load-model', source, weights: options.weights, promptFormat: format.id }, format };
}
