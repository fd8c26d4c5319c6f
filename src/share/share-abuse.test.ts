// The hostile links: a short link that once cost seconds and hundreds of MB to score is
// refused by the checks on decode (before any scoring), and the largest link that passes is scored
// in slices that give the page turns and stop on request.
import { describe, expect, it } from 'vitest';
import { MAX_EXPANSION_LINES } from '../scoring/index.ts';
import { decodeShare, encodeShare } from './link.ts';
import { resultOfPayload, SHARE_VERSION, type SharePayload } from './payload.ts';
import { referenceLink } from './reference-link.ts';
import { ShareError } from './share-error.ts';

const payload = (pairs: SharePayload['pairs']): SharePayload => ({
  v: SHARE_VERSION,
  model: { base: 'Qwen/Qwen3-0.6B', adapter: null },
  profile: 'eval',
  settings: null,
  pairs,
});

describe('hostile share links', () => {
  it("refuses the issue's link (100 pairs of 'lex:' × 1,600) on decode, naming the pair and the limit", () => {
    // Written by the reference encoder: this page's own encoder refuses to make such a link.
    const link = referenceLink(JSON.stringify(payload(Array.from({ length: 100 }, () => ({ query: 'q', expansion: 'lex:\n'.repeat(1600) })))));
    expect(link.length).toBeLessThan(3000);
    let error: unknown;
    try {
      decodeShare(link);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShareError);
    expect((error as ShareError).kind).toBe('invalid_payload');
    expect((error as ShareError).message).toBe('share link: pairs[0]: expansion has 1,600 non-blank lines; the scorers accept at most 500');
  });

  it('scores the largest accepted pairs in slices: timers run meanwhile, and an abort stops it', async () => {
    // Distinct lines are the worst case for duplicate detection.
    const expansion = Array.from({ length: MAX_EXPANSION_LINES }, (_, i) => `lex: t${i}`).join('\n').slice(0, 7999);
    const heavy = decodeShare(encodeShare(payload(Array.from({ length: 40 }, (_, i) => ({ query: `t${i}`, expansion })))));
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    const result = await resultOfPayload(heavy);
    clearInterval(timer);
    expect(result.items).toHaveLength(40);
    expect(turns).toBeGreaterThan(1);

    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('left the page')), 0);
    await expect(resultOfPayload(heavy, abort.signal)).rejects.toThrow('left the page');
  });
});
