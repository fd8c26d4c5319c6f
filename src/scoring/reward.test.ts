import { describe, expect, test } from 'vitest';
import { scoreBoth, scoreReward } from './index.ts';
import {
  DOCKER, DOCKER_QUERY, ECHO, ECHO_QUERY, FILLER, FILLER_QUERY, NGINX, NGINX_QUERY,
} from './handCases.ts';

describe('scoreReward', () => {
  test.each([['continuation', 'Sure!\nlex: a'], ['empty', ''], ['blank', ' \n\x1c'], ['case', 'VEC: a']])(
    'hard fail on %s output', (_why, expansion) => {
      expect(scoreReward('q', expansion)).toStrictEqual({ hard_fail: true, reward: 0 });
    },
  );

  test('complete expansion, query without entities: entity fixed at 10', () => {
    expect(scoreReward(NGINX_QUERY, NGINX)).toStrictEqual({
      format: 30, diversity: 30, hyde: 20, quality: 20, entity: 10, total: 110, max_possible: 120,
      reward: 110 / 120,
    });
  });

  test('complete expansion naming the entities reaches 1', () => {
    const query = 'configure Nginx reverse proxy';
    expect(scoreBoth(query, NGINX).entities).toEqual(['nginx', 'proxy', 'reverse']);
    expect(scoreReward(query, NGINX)).toMatchObject({ entity: 20, total: 120, reward: 1 });
  });

  test('entity: some lex lines name an entity, one generic line, vec names one', () => {
    expect(scoreReward(DOCKER_QUERY, DOCKER)).toStrictEqual({
      format: 30, diversity: 30, hyde: 0, quality: 5 + 5 + 5 + 2, entity: 5 - 15 + 5, total: 72, max_possible: 100,
      reward: 0.72,
    });
  });

  test('entity: entities but no lex line scores 0', () => {
    expect(scoreReward(DOCKER_QUERY, 'vec: how to install docker engine on ubuntu linux')).toMatchObject({ entity: 0 });
  });

  test('negative total clamps to reward 0', () => {
    expect(scoreReward(FILLER_QUERY, FILLER)).toStrictEqual({
      format: 10, diversity: 20, hyde: 0, quality: 5, entity: -30 - 45, total: -40, max_possible: 100, reward: 0,
    });
  });

  test('echoing lines cost 3 each, floor 0', () => {
    expect(scoreReward(ECHO_QUERY, ECHO)).toMatchObject({ diversity: 10 + 5 + 5 + 5 + 0 });
    expect(scoreReward(ECHO_QUERY, ECHO.replace('vec: docker compose tutorial', 'vec: compose files explained'))).toMatchObject(
      { diversity: 10 + 5 + 5 + 5 + 2 },
    );
  });

  test('quality: no partial credit for lengths, KEY_STOP for key terms', () => {
    const score = scoreReward('find nginx docs', 'lex: apache httpd virtual host configuration file\nlex: find\nvec: web server');
    expect(score).toMatchObject({ quality: 5 + 0 + 2 + 0 });
    expect(scoreReward('find nginx docs', 'lex: nginx\nvec: web server')).toMatchObject({ quality: 5 + 5 + 2 + 5 });
  });

  test('hyde without deductions, same points as eval', () => {
    const tooLong = `lex: a\nvec: b c\nhyde: ${'x'.repeat(201)}`;
    expect(scoreReward('q', tooLong)).toMatchObject({ hyde: 15, max_possible: 120 });
    expect(scoreBoth('q', tooLong).eval.hyde).toBe(15);
  });
});
