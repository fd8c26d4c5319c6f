// Where a model's files live on the Hugging Face hub and which of them a load needs.
import { staysInFolder } from '../file-path.ts';
import { parseSafetensorsIndex } from '../safetensors.ts';
import { download, HubError, readJson, type DownloadOptions } from './download.ts';

export const HUB_BASE = 'https://huggingface.co';

/** Where to resolve files: a hub (or a local server in tests) and a branch, tag or commit. */
export interface HubLocation {
  base?: string;
  revision?: string;
}

/** One file of one repo at one revision, with the URL it downloads from. */
export interface HubFile {
  repo: string;
  revision: string;
  file: string;
  url: string;
}

// The hub's rule for owner and name: letters, digits, '-', '_', '.', not starting or
// ending with '-' or '.', no '--' or '..', at most 96 characters.
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;

/** `repo` when it is a valid `owner/name` id; otherwise an error saying what is expected. */
export function checkRepoId(repo: string): string {
  const parts = repo.split('/');
  const bad = parts.length !== 2 || parts.some((p) => p.length > 96 || !PART.test(p) || p.includes('--') || p.includes('..'));
  if (bad) {
    throw new Error(
      `invalid repo id ${JSON.stringify(repo)}: expected owner/name made of letters, digits, '-', '_' and '.' (e.g. Qwen/Qwen3-0.6B)`,
    );
  }
  return repo;
}

/** A repo id from what a user typed or pasted: `owner/name` or a hub page URL. */
export function parseRepoInput(input: string, base = HUB_BASE): string {
  const text = input.trim();
  const prefix = `${base.replace(/\/+$/, '')}/`;
  const path = text.startsWith(prefix) ? text.slice(prefix.length) : text;
  return checkRepoId(path.split(/[/?#]/).slice(0, 2).join('/'));
}

/** `${base}/${repo}/resolve/${revision}/${file}` with each part URL-encoded. */
export function hubFile(repo: string, file: string, location: HubLocation = {}): HubFile {
  checkRepoId(repo);
  if (!staysInFolder(file)) {
    throw new Error(`invalid file path ${JSON.stringify(file)} in repo ${repo}: expected a relative path like config.json`);
  }
  const base = (location.base ?? HUB_BASE).replace(/\/+$/, '');
  const revision = location.revision ?? 'main';
  const path = file.split('/').map(encodeURIComponent).join('/');
  return { repo, revision, file, url: `${base}/${repo}/resolve/${encodeURIComponent(revision)}/${path}` };
}

export const SHARD_INDEX = 'model.safetensors.index.json';
const BASE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
export const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors'];

/**
 * The files a base (or merged) model needs: config and tokenizer, then `model.safetensors`, or
 * when the repo has `model.safetensors.index.json` (probed first, and kept in the cache when one
 * is given) that index followed by its shards, deduplicated and in name order.
 */
export async function listBaseModelFiles(
  repo: string,
  location: HubLocation = {},
  options: Omit<DownloadOptions, 'onProgress'> = {},
): Promise<HubFile[]> {
  const index = hubFile(repo, SHARD_INDEX, location);
  let weights: string[];
  try {
    const weightMap = parseSafetensorsIndex(await readJson(await download(index, options)), `${repo}/${SHARD_INDEX}`);
    weights = [SHARD_INDEX, ...[...new Set(weightMap.values())].sort()];
  } catch (error) {
    if (!(error instanceof HubError && error.kind === 'not-found')) throw error;
    weights = ['model.safetensors'];
  }
  return [...BASE_FILES, ...weights].map((file) => hubFile(repo, file, location));
}

/** The files of a PEFT LoRA adapter. */
export function listAdapterFiles(repo: string, location: HubLocation = {}): HubFile[] {
  return ADAPTER_FILES.map((file) => hubFile(repo, file, location));
}
