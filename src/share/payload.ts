// What a share link carries: the model, the settings and the (query, expansion) pairs —
// never scores, which the viewer recomputes, so a link cannot show forged numbers.
// Validation is strict (types, lengths, counts, no unknown keys) because the input is
// whatever a stranger pasted.
import type { EvalResult, GenerationSettings, ModelDescription } from '../data/db.ts';
import { checkScorable, ScoringLimitError } from '../scoring/index.ts';
import { invalid, record, text, number, type Fields } from './fields.ts';
import { checkRetrieval, retrievalOfShare, shareOfRetrieval, type ShareRetrieval } from './retrieval-link.ts';
import { scoreUntrusted } from './result.ts';
import { ShareError } from './share-error.ts';

/**
 * The version this page writes. 2 added `created`, 3 the retrieval eval's ranks (`retrieval`,
 * and no pairs for a "no expansion" result); links of versions 1 and 2 still open.
 */
export const SHARE_VERSION = 3;
export const READABLE_VERSIONS: readonly number[] = [1, 2, 3];

export interface SharePair {
  query: string;
  expansion: string;
}

export interface SharePayload {
  v: 1 | 2 | 3;
  /** When the result was made (ms since 1970), so that the viewer shows that rather than when the link was opened. */
  created?: number;
  model: ModelDescription;
  profile: 'eval' | 'reward';
  settings: GenerationSettings | null;
  name?: string;
  pairs: SharePair[];
  /** Version 3: the retrieval eval's query set and ranks (see retrieval-link.ts). */
  retrieval?: ShareRetrieval;
}

export const SHARE_LIMITS = {
  pairs: 1000,
  queryChars: 1000,
  expansionChars: 8000,
  nameChars: 200,
  noteChars: 1000,
} as const;

/** The latest time a JavaScript Date holds (ms since 1970). */
const MAX_TIME = 8.64e15;

function model(value: unknown): ModelDescription {
  const fields = record(value, 'model', ['base', 'adapter', 'note'], ['base', 'adapter']);
  const described: ModelDescription = {
    base: text(fields.base, 'model.base', SHARE_LIMITS.nameChars, 1),
    adapter: fields.adapter === null ? null : text(fields.adapter, 'model.adapter', SHARE_LIMITS.nameChars, 1),
  };
  if (fields.note !== undefined) described.note = text(fields.note, 'model.note', SHARE_LIMITS.noteChars);
  return described;
}

const SETTINGS_KEYS = ['temperature', 'topK', 'topP', 'maxNewTokens', 'seed', 'samplesPerQuery'] as const;

function settings(value: unknown): GenerationSettings | null {
  if (value === null) return null;
  const fields = record(value, 'settings', SETTINGS_KEYS, SETTINGS_KEYS);
  return {
    temperature: number(fields.temperature, 'settings.temperature', 0, 100, false),
    topK: number(fields.topK, 'settings.topK', 0, 1_000_000, true),
    topP: number(fields.topP, 'settings.topP', 0, 1, false),
    maxNewTokens: number(fields.maxNewTokens, 'settings.maxNewTokens', 1, 1_000_000, true),
    seed:
      fields.seed === null
        ? null
        : number(fields.seed, 'settings.seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
    samplesPerQuery: number(fields.samplesPerQuery, 'settings.samplesPerQuery', 1, 1000, true),
  };
}

/** `min` is 0 only for a retrieval result of "no expansion" alone. */
function pairs(value: unknown, min: number): SharePair[] {
  if (!Array.isArray(value) || value.length < min || value.length > SHARE_LIMITS.pairs) {
    invalid('pairs', `a list of ${min}–${SHARE_LIMITS.pairs} pairs`);
  }
  return value.map((item, i) => {
    const fields = record(item, `pairs[${i}]`, ['query', 'expansion'], ['query', 'expansion']);
    const pair = {
      query: text(fields.query, `pairs[${i}].query`, SHARE_LIMITS.queryChars, 1),
      expansion: text(fields.expansion, `pairs[${i}].expansion`, SHARE_LIMITS.expansionChars),
    };
    // The scorers' own limits (lines, not only characters) are checked here, in O(length), so a
    // link that could not be scored fails as a whole before any pair is scored.
    try {
      checkScorable(pair.query, pair.expansion);
    } catch (error) {
      if (error instanceof ScoringLimitError) throw new ShareError('invalid_payload', `share link: pairs[${i}]: ${error.message}`);
      throw error;
    }
    return pair;
  });
}

/** A fresh, fully checked payload built from untrusted parsed JSON; throws ShareError. */
export function checkPayload(value: unknown): SharePayload {
  // The version first: a newer layout may lack or add any other field.
  const version = typeof value === 'object' && value !== null ? (value as Fields).v : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > SHARE_VERSION) {
    throw new ShareError('future_version', `share link: made by a newer qmd-lab, version ${version}; this page reads version ${SHARE_VERSION}`);
  }
  const fields = record(
    value,
    'payload',
    ['v', 'created', 'model', 'profile', 'settings', 'name', 'pairs', 'retrieval'],
    ['v', 'model', 'profile', 'settings', 'pairs'],
  );
  if (!READABLE_VERSIONS.includes(fields.v as number)) invalid('v', `one of ${READABLE_VERSIONS.join(', ')}`);
  const v = fields.v as SharePayload['v'];
  if (v === 1 && Object.hasOwn(fields, 'created')) invalid('created', 'no such field in a version 1 link');
  if (v < 3 && Object.hasOwn(fields, 'retrieval')) invalid('retrieval', `no such field in a version ${v} link`);
  if (fields.profile !== 'eval' && fields.profile !== 'reward') invalid('profile', '"eval" or "reward"');
  const checkedPairs = pairs(fields.pairs, fields.retrieval === undefined ? 1 : 0);
  return {
    v,
    ...(fields.created === undefined ? {} : { created: number(fields.created, 'created', 0, MAX_TIME, true) }),
    model: model(fields.model),
    profile: fields.profile,
    settings: settings(fields.settings),
    ...(fields.name === undefined ? {} : { name: text(fields.name, 'name', SHARE_LIMITS.nameChars) }),
    pairs: checkedPairs,
    ...(fields.retrieval === undefined ? {} : { retrieval: checkRetrieval(fields.retrieval, checkedPairs) }),
  };
}

/** What to put in a link for a stored result (its scores stay behind). */
export function payloadOfResult(result: EvalResult): SharePayload {
  return {
    v: SHARE_VERSION,
    created: result.created,
    model: result.model,
    profile: result.profile,
    settings: result.settings,
    name: result.name.slice(0, SHARE_LIMITS.nameChars),
    pairs: result.items.map(({ query, expansion }) => ({ query, expansion })),
    ...(result.retrieval ? { retrieval: shareOfRetrieval(result.retrieval) } : {}),
  };
}

/**
 * The result a link shows, scored afresh by this page; made when the link says (a version 1 link
 * does not say: now). Its retrieval ranks are the sender's until searched again (stored.ts recomputeBm25).
 */
export async function resultOfPayload(payload: SharePayload, signal?: AbortSignal): Promise<EvalResult> {
  const result = await scoreUntrusted({
    name: payload.name ?? 'shared result',
    model: payload.model,
    profile: payload.profile,
    settings: payload.settings,
    pairs: payload.pairs,
    origin: 'share',
  }, signal);
  return {
    ...result,
    ...(payload.created === undefined ? {} : { created: payload.created }),
    ...(payload.retrieval ? { retrieval: retrievalOfShare(payload.retrieval, payload.pairs) } : {}),
  };
}
