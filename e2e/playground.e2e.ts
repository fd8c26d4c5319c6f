import { test, expect } from '@playwright/test';
import { MAX_EXPANSION_LINES, explain, scoreEval, scoreReward } from '../src/scoring/index.ts';

const QUERY = 'TDS motorsports pricing';
const EXPANSION = [
  'lex: tds motorsports price list',
  'lex: search for it',
  'lex: tds motorsports price',
  'vec: how much does TDS Motorsports charge for a race car build',
  'vec: tds motorsports price list',
  'just a stray line',
  'hyde: TDS Motorsports publishes a price list for race car builds, parts and trackside support on its website.',
].join('\n');

test('the playground shows the same scores as src/scoring, for both profiles', async ({ page }) => {
  await page.goto('./#/playground');
  await page.getByTestId('query-input').fill(QUERY);
  await page.getByTestId('expansion-input').fill(EXPANSION);

  const evalScore = scoreEval(QUERY, EXPANSION);
  const reward = scoreReward(QUERY, EXPANSION);
  const explanation = explain(QUERY, EXPANSION);
  const evalSide = page.getByTestId('profile-eval');
  const rewardSide = page.getByTestId('profile-reward');
  await expect(evalSide.getByTestId('eval-score')).toHaveText(`${evalScore.percentage.toFixed(1)} %`);
  await expect(evalSide.getByTestId('eval-rating')).toHaveText(evalScore.rating);
  await expect(evalSide.getByTestId('eval-notes').getByRole('listitem')).toHaveText(evalScore.deductions);
  for (const name of ['format', 'diversity', 'hyde', 'quality'] as const) {
    await expect(evalSide.getByTestId(`bar-${name}`)).toContainText(`${evalScore[name]}/`);
  }
  await expect(rewardSide.getByTestId('reward-score')).toHaveText(reward.reward.toFixed(3));
  await expect(rewardSide.getByTestId('reward-notes').getByRole('listitem')).toHaveText(explanation.rewardNotes);
  if ('hard_fail' in reward) throw new Error('the test expansion must not hard-fail');
  await expect(rewardSide.getByTestId('bar-entity')).toContainText(`${reward.entity}/`);

  const lines = page.getByTestId('parsed-line');
  await expect(lines).toHaveCount(explanation.lines.length);
  for (const [i, line] of explanation.lines.entries()) await expect(lines.nth(i)).toHaveAttribute('data-kind', line.kind);
  for (const [i, line] of explanation.lines.entries()) {
    await expect(lines.nth(i).locator('mark')).toHaveText(line.entitySpans.map(([from, to]) => line.text.slice(from, to)));
  }
  await expect(lines.nth(0).locator('mark')).toHaveText(['tds', 'motorsports']);
  const duplicates = explanation.lines.reduce((n, l) => n + l.duplicateOf.length, 0);
  expect(duplicates).toBeGreaterThan(0);
  await expect(page.getByTestId('flag-duplicate')).toHaveCount(duplicates);
  const generic = explanation.lines.filter((l) => l.generic).length;
  expect(generic).toBeGreaterThan(0);
  await expect(page.getByTestId('flag-generic')).toHaveCount(generic);
  await page.screenshot({ path: '/tmp/shots/playground-scored.png', fullPage: true });

  await page.getByTestId('expansion-input').fill('Sure! Here are some expansions');
  await expect(page.getByTestId('eval-rating')).toHaveText('Failed');
  await expect(page.getByTestId('reward-score')).toHaveText('0.000');
});

test('markup in an expansion renders as text, never as elements', async ({ page }) => {
  const injected = ['lex: <script>window.__pwned = 1</script>', 'vec: <img src=x onerror="window.__pwned = 2"> login', 'hyde: <b>bold</b>'];
  await page.goto('./#/playground');
  await page.getByTestId('query-input').fill('<img src=x onerror="window.__pwned = 3">');
  await page.getByTestId('expansion-input').fill(injected.join('\n'));
  const breakdown = page.getByTestId('breakdown');
  await expect(breakdown.getByText('<script>window.__pwned = 1</script>')).toBeVisible();
  await expect(breakdown.getByText('<img src=x onerror="window.__pwned = 2"> login')).toBeVisible();
  await expect(breakdown.locator('script, img, b')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('what was typed survives a reload and a trip to another view; the example comes back on request, with an undo', async ({ page }) => {
  await page.goto('./#/playground');
  const example = { query: await page.getByTestId('query-input').inputValue(), expansion: await page.getByTestId('expansion-input').inputValue() };
  await expect(page.getByTestId('restore-example')).toBeDisabled();
  await page.getByTestId('query-input').fill(QUERY);
  await page.getByTestId('expansion-input').fill(EXPANSION);
  await page.reload();
  await expect(page.getByTestId('query-input')).toHaveValue(QUERY);
  await expect(page.getByTestId('expansion-input')).toHaveValue(EXPANSION);
  await expect(page.getByTestId('eval-score')).toHaveText(`${scoreEval(QUERY, EXPANSION).percentage.toFixed(1)} %`);

  await page.getByRole('link', { name: 'Datasets' }).click();
  await page.getByRole('link', { name: 'Playground', exact: true }).click();
  await expect(page.getByTestId('expansion-input')).toHaveValue(EXPANSION);

  await page.getByTestId('expansion-input').fill('');
  await page.reload();
  await expect(page.getByTestId('query-input')).toHaveValue(QUERY);
  await expect(page.getByTestId('expansion-input')).toHaveValue('');

  // Restoring the example keeps what it replaced, across a reload, until undone.
  const typed = 'lex: my own line\nvec: typed by hand, not the example';
  await page.getByTestId('expansion-input').fill(typed);
  await expect(page.getByTestId('undo-placement')).toHaveCount(0);
  await page.getByTestId('restore-example').click();
  await expect(page.getByTestId('query-input')).toHaveValue(example.query);
  await expect(page.getByTestId('expansion-input')).toHaveValue(example.expansion);
  await page.reload();
  await expect(page.getByTestId('expansion-input')).toHaveValue(example.expansion);
  await page.getByTestId('undo-placement').click();
  await expect(page.getByTestId('query-input')).toHaveValue(QUERY);
  await expect(page.getByTestId('expansion-input')).toHaveValue(typed);
  await expect(page.getByTestId('undo-placement')).toHaveCount(0);

  // Once the placed text is edited the edit is the user's: no undo over it.
  await page.getByTestId('restore-example').click();
  await page.getByTestId('expansion-input').press('End');
  await page.getByTestId('expansion-input').pressSequentially(' edited');
  await expect(page.getByTestId('undo-placement')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('expansion-input')).toHaveValue(`${example.expansion} edited`);
});

test('text past the scorers\' limits is refused with the limit named, and the page keeps working', async ({ page }) => {
  await page.goto('./#/playground');
  await page.getByTestId('query-input').fill(QUERY);
  const tooMany = Array.from({ length: MAX_EXPANSION_LINES + 1 }, (_, i) => `lex: line ${i}`).join('\n');
  await page.getByTestId('expansion-input').fill(tooMany);
  await expect(page.getByTestId('not-scored')).toContainText(`at most ${MAX_EXPANSION_LINES}`);
  await expect(page.getByTestId('breakdown')).toHaveCount(0);
  await page.getByTestId('expansion-input').fill(EXPANSION);
  await expect(page.getByTestId('not-scored')).toHaveCount(0);
  await expect(page.getByTestId('eval-score')).toHaveText(`${scoreEval(QUERY, EXPANSION).percentage.toFixed(1)} %`);
});
