// Routes live in the URL hash so that the page works from any static host and a reload
// (or a shared link) lands on the same view.

export type Route =
  | { view: 'playground' }
  | { view: 'datasets' }
  | { view: 'dataset'; id: string }
  | { view: 'train' }
  | { view: 'grpo' }
  | { view: 'eval' }
  | { view: 'results' }
  | { view: 'result'; id: string }
  | { view: 'share'; payload: string }
  /** `section`: the id of a part of the help page (src/app/help.ts), null for its top. */
  | { view: 'help'; section: string | null }
  | { view: 'unknown'; hash: string };

export const DEFAULT_ROUTE: Route = { view: 'playground' };

/** The nav bar's entries, in order; `match` lists the views that highlight the entry. */
export const NAV: readonly { label: string; hash: string; match: readonly Route['view'][] }[] = [
  { label: 'Playground', hash: '#/playground', match: ['playground'] },
  { label: 'Datasets', hash: '#/datasets', match: ['datasets', 'dataset'] },
  { label: 'Train', hash: '#/train', match: ['train'] },
  { label: 'GRPO', hash: '#/grpo', match: ['grpo'] },
  { label: 'Eval', hash: '#/eval', match: ['eval'] },
  { label: 'Results', hash: '#/results', match: ['results', 'result', 'share'] },
  { label: 'Help', hash: '#/help', match: ['help'] },
];

/** Parses `location.hash`; an empty hash is the default route. */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\//, '');
  if (path === '') return DEFAULT_ROUTE;
  const slash = path.indexOf('/');
  const head = slash < 0 ? path : path.slice(0, slash);
  // The rest is kept raw for share payloads (their alphabet is URL-safe); ids are decoded.
  const rest = slash < 0 ? '' : path.slice(slash + 1);
  switch (head) {
    case 'playground':
    case 'train':
    case 'grpo':
    case 'eval':
      if (rest === '') return { view: head };
      break;
    case 'datasets':
      return rest === '' ? { view: 'datasets' } : { view: 'dataset', id: decodeURIComponent(rest) };
    case 'results':
      return rest === '' ? { view: 'results' } : { view: 'result', id: decodeURIComponent(rest) };
    case 'share':
      if (rest !== '') return { view: 'share', payload: rest };
      break;
    case 'help':
      if (!rest.includes('/')) return { view: 'help', section: rest === '' ? null : decodeURIComponent(rest) };
      break;
  }
  return { view: 'unknown', hash };
}

/** The hash that `parseHash` turns back into `route`. */
export function routeHash(route: Route): string {
  switch (route.view) {
    case 'dataset':
      return `#/datasets/${encodeURIComponent(route.id)}`;
    case 'result':
      return `#/results/${encodeURIComponent(route.id)}`;
    case 'share':
      return `#/share/${route.payload}`;
    case 'help':
      return route.section === null ? '#/help' : `#/help/${encodeURIComponent(route.section)}`;
    case 'unknown':
      return route.hash;
    default:
      return `#/${route.view}`;
  }
}

/** Whether a nav entry is the current one. */
export function isCurrent(entry: (typeof NAV)[number], route: Route): boolean {
  return entry.match.includes(route.view);
}
