// The page's load request carries the model's prompt format: without it the worker asked every
// model in the v4 wording, tobil/qmd-query-expansion-1.7B included.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogPromptFormat, parseModelCatalog } from '../../model/hub/catalog.ts';
import { chooseFormat, loadModelRequest } from './prompt-choice.ts';

const catalog = parseModelCatalog(JSON.parse(readFileSync(new URL('../../../configs/models.json', import.meta.url), 'utf8')));
const hub = (repo: string) => ({ kind: 'hub' as const, repo, base: 'http://127.0.0.1:1/models' });
const files = { kind: 'files' as const, files: [], name: 'qmd-query-expansion-1.7B' };

describe('the prompt format a load asks for', () => {
  it("sends the catalog's format of a listed repo, whatever hub serves it and however its id is cased", () => {
    expect(loadModelRequest(catalog, hub('tobil/qmd-query-expansion-1.7B'), { weights: 'f16', choice: 'catalog' })).toEqual({
      request: { type: 'load-model', source: hub('tobil/qmd-query-expansion-1.7B'), weights: 'f16', promptFormat: 'qmd-1.7b' },
      format: { id: 'qmd-1.7b', from: 'catalog' },
    });
    expect(chooseFormat(catalog, hub('TOBIL/qmd-query-expansion-1.7b'), 'catalog')).toEqual({ id: 'qmd-1.7b', from: 'catalog' });
    expect(chooseFormat(catalog, hub('Qwen/Qwen3-0.6B'), 'catalog')).toEqual({ id: 'qmd-v4', from: 'catalog' });
  });

  it('sends the default for a repo the catalog does not list and for picked files', () => {
    expect(chooseFormat(catalog, hub('someone/other-model'), 'catalog')).toEqual({ id: 'qmd-v4', from: 'default' });
    expect(chooseFormat(catalog, files, 'catalog')).toEqual({ id: 'qmd-v4', from: 'default' });
    expect(catalogPromptFormat(catalog, 'someone/other-model')).toBeNull();
  });

  it("sends the user's explicit choice over the catalog's", () => {
    expect(loadModelRequest(catalog, hub('tobil/qmd-query-expansion-1.7B'), { weights: 'q4', choice: 'qmd-v4' }).request).toMatchObject({
      weights: 'q4',
      promptFormat: 'qmd-v4',
    });
    expect(chooseFormat(catalog, files, 'qmd-1.7b')).toEqual({ id: 'qmd-1.7b', from: 'chosen' });
  });
});
