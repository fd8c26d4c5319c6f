import { describe, expect, test } from 'vitest';
import { parseExpansion, scoreEval } from './index.ts';
import { isDiverse, repetitionPenalty } from './rules.ts';
import { ECHO, ECHO_QUERY, NGINX, NGINX_HYDE, NGINX_QUERY } from './handCases.ts';

const GOOD_PAIR = 'lex: nginx proxy\nvec: how do I set up nginx as a reverse proxy server';

describe('parseExpansion', () => {
  test('strips, splits on \\n only, routes by case-sensitive prefix', () => {
    const text = '  lex: a \n\nvec:b\r\nhyde:  c\nLex: d\n lex: e\nlex : f\nfoo\x85';
    expect(parseExpansion(text)).toEqual({
      lex: ['a', 'e'], vec: ['b'], hyde: ['c'], invalid: ['Lex: d', 'lex : f', 'foo'],
    });
  });
  test('\\x1c separates nothing but is stripped', () => {
    expect(parseExpansion('lex: a\x1cb\x1c')).toEqual({ lex: ['a\x1cb'], vec: [], hyde: [], invalid: [] });
  });
});

describe('scoreEval', () => {
  test('a complete expansion scores 100 % with quality capped at 20', () => {
    const score = scoreEval(NGINX_QUERY, NGINX);
    expect(score).toMatchObject({ format: 30, diversity: 30, hyde: 20, quality: 20, deductions: [], total: 100 });
    expect(score).toMatchObject({ max_possible: 100, percentage: 100, rating: 'Excellent', is_continuation: false });
    expect(score.parsed.hyde).toEqual([NGINX_HYDE]);
  });

  test('continuation: raw first 100 code points kept as invalid, everything 0', () => {
    const expansion = `  Sure, here you go ${'😀'.repeat(100)}\nlex: nginx`;
    expect(scoreEval('q', expansion)).toEqual({
      format: 0, diversity: 0, hyde: 0, quality: 0,
      deductions: ['CONTINUATION DETECTED - output does not start with lex:/vec:/hyde:'],
      total: 0, max_possible: 80, percentage: 0, rating: 'Failed',
      parsed: { lex: [], vec: [], hyde: [], invalid: [`  Sure, here you go ${'😀'.repeat(80)}`] },
      is_continuation: true,
    });
    expect(scoreEval('q', '').parsed.invalid).toEqual(['']);
    expect(scoreEval('q', 'Lex: a').is_continuation).toBe(true);
    expect(scoreEval('q', '\n\x85 lex: a').is_continuation).toBe(false);
  });

  test('format: missing types and invalid lines, floor 0', () => {
    const three = scoreEval('q', 'lex: nginx\nnote one\nnote two\nnote three');
    expect(three.format).toBe(10);
    expect(three.deductions.slice(0, 2)).toEqual(['missing vec: (-10)', '3 invalid lines (-10)']);
    const one = scoreEval('q', `${GOOD_PAIR}\nstray`);
    expect(one.format).toBe(25);
    expect(one.deductions[0]).toBe('1 invalid lines (-5)');
  });

  test('diversity: duplicate lex pairs cost 2 each down to 0, quoted at 20 code points', () => {
    const line = 'lex: nginx reverse proxy configuration guide';
    const score = scoreEval('q', `${line}\n${line}\n${line}`);
    const dup = "lex duplicates: 'nginx reverse proxy ...' ~ 'nginx reverse proxy ...'";
    expect(score.deductions.filter((d) => d === dup)).toHaveLength(3);
    expect(score.diversity).toBe(0 + 5 + 0 + 5 + 5);
  });

  test('diversity: vec lines need 3 different words, lex lines 2', () => {
    const [a, b] = ['install docker on ubuntu server', 'install docker on debian server'];
    expect(isDiverse(a, b, 2)).toBe(true);
    expect(isDiverse(a, b, 3)).toBe(false);
    expect(isDiverse('Nginx Proxy', ' nginx proxy setup', 1)).toBe(false);
    const score = scoreEval('q', `lex: x\nvec: ${a}\nvec: ${b}`);
    expect(score.deductions).toContain("vec duplicates: 'install docker on ub...' ~ 'install docker on de...'");
  });

  test('diversity: echoing lines cost 5 each, quoted at 30 code points', () => {
    const score = scoreEval(ECHO_QUERY, ECHO);
    expect(score.diversity).toBe(10 + 5 + 5 + 5 + 0);
    expect(score.deductions).toEqual([
      "echoes query: 'docker compose...'",
      "echoes query: 'docker compose tutorial...'",
    ]);
    expect(scoreEval(ECHO_QUERY, 'lex: docker compose tutorial guide').deductions).not.toContain(
      "echoes query: 'docker compose tutorial guide...'",
    );
  });

  test.each([
    [49, 17, ['hyde too short (49 chars)']],
    [50, 20, []],
    [200, 20, []],
    [201, 15, ['hyde too long (201 chars)']],
  ])('hyde of %i code points scores %i', (length, points, deductions) => {
    const score = scoreEval(NGINX_QUERY, `${GOOD_PAIR}\nhyde: ${'😀'.repeat(length)}\nhyde: short`);
    expect(score.hyde).toBe(points);
    expect(score.deductions).toEqual(deductions);
  });

  test('hyde repetition penalty', () => {
    const hyde = 'Docker runs containers. Docker builds images. Docker pushes images to registries today.';
    const score = scoreEval(NGINX_QUERY, `${GOOD_PAIR}\nhyde: ${hyde}`);
    expect(score.hyde).toBe(18);
    expect(score.deductions).toEqual(['hyde repetition penalty (-2)']);
    const heavy = scoreEval(NGINX_QUERY, `${GOOD_PAIR}\nhyde: ${'nginx '.repeat(12)}works fine`);
    expect(heavy.hyde).toBe(15);
    expect(heavy.deductions).toEqual(['hyde repetition penalty (-5)']);
  });

  test.each([
    ['the the the the is is is', 0],
    ['go go go go', 0],
    ['café café café', 2],
    ['Docker docker DOCKER', 2],
    ['proxy_pass proxy_pass proxy_pass proxy', 2],
    ['abc abc abc abc abc', 6],
    ['abc-abc abc', 2],
  ])('repetitionPenalty(%j) = %i', (text, penalty) => {
    expect(repetitionPenalty(text)).toBe(penalty);
  });

  test('quality: lex longer than vec, keyword-like vec, lex without key terms', () => {
    const score = scoreEval(NGINX_QUERY, 'lex: apache httpd virtual host configuration file\nvec: web server');
    expect(score.quality).toBe(10 + 0 + 2 + 0);
    expect(score.deductions.slice(-3)).toEqual([
      'lex longer than vec (should be keywords)',
      'some vec lines too short/keyword-like',
      'lex lines too generic - missing key terms from query',
    ]);
    expect(scoreEval(NGINX_QUERY, 'lex: apache\nlex: nginx').quality).toBe(10 + 2 + 2);
  });

  test('percentage is total / max_possible * 100 in float, as Python computes it', () => {
    const score = scoreEval('bulgarian education', 'hyde: only hyde here that is long enough to count for something.');
    expect(score).toMatchObject({ format: 10, diversity: 15, hyde: 20, quality: 12, total: 57, max_possible: 100 });
    expect(score.percentage).toBe(56.99999999999999);
    expect(score.rating).toBe('Acceptable');
  });
});
