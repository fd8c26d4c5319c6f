import { describe, expect, it } from 'vitest';
import { NAV, isCurrent, parseHash, routeHash, type Route } from './router.ts';

describe('parseHash', () => {
  it('defaults to the playground', () => {
    expect(parseHash('')).toEqual({ view: 'playground' });
    expect(parseHash('#')).toEqual({ view: 'playground' });
    expect(parseHash('#/')).toEqual({ view: 'playground' });
  });
  it('reads list and item routes', () => {
    expect(parseHash('#/datasets')).toEqual({ view: 'datasets' });
    expect(parseHash('#/datasets/abc-1')).toEqual({ view: 'dataset', id: 'abc-1' });
    expect(parseHash('#/results/r%2F1')).toEqual({ view: 'result', id: 'r/1' });
    expect(parseHash('#/train')).toEqual({ view: 'train' });
    expect(parseHash('#/grpo')).toEqual({ view: 'grpo' });
    expect(parseHash('#/eval')).toEqual({ view: 'eval' });
  });
  it('keeps share payloads raw, slashes included', () => {
    expect(parseHash('#/share/v1.AbC-_/x')).toEqual({ view: 'share', payload: 'v1.AbC-_/x' });
  });
  it('reads the help page and its sections', () => {
    expect(parseHash('#/help')).toEqual({ view: 'help', section: null });
    expect(parseHash('#/help/lines')).toEqual({ view: 'help', section: 'lines' });
    expect(parseHash('#/help/lines/extra')).toEqual({ view: 'unknown', hash: '#/help/lines/extra' });
  });
  it('marks anything else unknown', () => {
    expect(parseHash('#/nope')).toEqual({ view: 'unknown', hash: '#/nope' });
    expect(parseHash('#/train/extra')).toEqual({ view: 'unknown', hash: '#/train/extra' });
    expect(parseHash('#/share/')).toEqual({ view: 'unknown', hash: '#/share/' });
  });
});

describe('routeHash', () => {
  it('round-trips through parseHash', () => {
    const routes: Route[] = [
      { view: 'playground' }, { view: 'datasets' }, { view: 'dataset', id: 'a b/c' }, { view: 'train' },
      { view: 'eval' }, { view: 'results' }, { view: 'result', id: 'x?y' }, { view: 'share', payload: 'p.Q_-' },
      { view: 'help', section: null }, { view: 'help', section: 'profiles' },
    ];
    for (const route of routes) expect(parseHash(routeHash(route))).toEqual(route);
  });
});

describe('NAV', () => {
  it('highlights exactly one entry for each known view', () => {
    const views: Route[] = [
      { view: 'playground' }, { view: 'dataset', id: 'x' }, { view: 'train' }, { view: 'eval' }, { view: 'share', payload: 'p' },
      { view: 'help', section: 'lines' },
    ];
    for (const route of views) expect(NAV.filter((entry) => isCurrent(entry, route))).toHaveLength(1);
    for (const entry of NAV) expect(parseHash(entry.hash).view).not.toBe('unknown');
  });
});
