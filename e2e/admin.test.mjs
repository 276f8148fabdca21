// The admin pages in a real browser: an operator kept out of them; an admin
// creating an API token (its secret shown once and working as a Bearer
// token), then revoking it; an operator's grant request reaching the admin's
// Grants page live and approved there; a role change on the Users page; and
// the three pages under axe, at a phone's width and in screenshots.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { THEMES, VIEWPORTS, axeProblems, connectionOpen, overflowProblems, settled, themedContext, watchFrames } from './checks.mjs';
import { devLogin, newContext, pageFetch, screenshot, useBrowser, usePortal, withTimeout } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

const ADMIN = { email: 'ada@example.com', name: 'Ada Admin' };
const OPERATOR = { email: 'olga@example.com', name: 'Olga Operator' };

/** subscribed waits until the stream confirmed a subscription to topic (its frames: watchFrames). */
async function subscribed(page, frames, topic) {
  await withTimeout(
    (async () => {
      while (!frames.some((f) => f.includes('"subscribed"') && f.includes(`"${topic}"`))) {
        await page.waitForTimeout(100);
      }
    })(),
    15_000,
    `waiting for the stream to confirm the "${topic}" subscription`,
  );
}

/** A REST call made the way a script would, with an API token: {status, body}. */
async function withToken(secret, method, p) {
  const res = await fetch(portal.url + p, {
    method,
    headers: { Authorization: `Bearer ${secret}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** The table row (in the named scroll box) whose text matches. */
function row(page, list, text) {
  return page.getByRole('region', { name: list }).getByRole('row').filter({ hasText: text });
}

test("an operator's sidebar has no admin pages, and /admin/users says it needs admin", async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, OPERATOR.email, 'operator', OPERATOR.name);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Agents' }).waitFor();
    for (const name of ['Users', 'Tokens', 'Grants']) {
      assert.equal(await nav.getByRole('link', { name }).count(), 0, `no ${name} link for an operator`);
    }
    for (const path of ['/admin/users', '/admin/tokens', '/admin/grants']) {
      await page.goto(path);
      await page.getByRole('heading', { name: 'Not available' }).waitFor();
      await page.getByText(/needs the admin role; you are signed in as operator/).waitFor();
    }
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('an admin creates an API token, sees its secret once, the secret works until the token is revoked', async () => {
  const ctx = await newContext(browser, portal);
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write']);
  try {
    const page = await ctx.newPage();
    await devLogin(page, ADMIN.email, 'admin', ADMIN.name);
    const frames = watchFrames(page);
    await page.goto('/admin/tokens');
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await connectionOpen(page).waitFor();
    await subscribed(page, frames, 'tokens');

    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API token' });
    // A bad name first: the server's complaint is shown next to the field.
    await dialog.getByLabel('Name').fill('not a name!');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.getByText(/does not match regex pattern/).waitFor();
    assert.equal(await dialog.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    ctx.problems.length = 0; // that 400 was the point

    await dialog.getByLabel('Name').fill('e2e-script');
    await dialog.getByLabel('Role').selectOption({ label: 'operator' });
    await dialog.getByLabel('Expires after').selectOption({ label: '1 day' });
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Token e2e-script created' });
    await shown.getByText(/cannot be shown again/).waitFor();
    const secret = await shown.getByLabel('Secret').inputValue();
    assert.match(secret, /^ppt_[A-Za-z0-9_-]{20,}$/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the clipboard holds the secret');
    await screenshot(page, 'admin-token-secret');
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
    assert.ok(!stored.includes(secret), 'the secret is in no storage');
    await shown.getByRole('button', { name: 'Done' }).click();
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page once the dialog closes');

    const tokenRow = row(page, 'Token list', 'e2e-script');
    await tokenRow.getByText('Active').waitFor();
    await tokenRow.getByText('operator').waitFor();

    // The secret works as a Bearer token, with the token's role.
    const me = await withToken(secret, 'GET', '/api/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.principal.kind, 'PRINCIPAL_KIND_TOKEN');
    assert.equal(me.body.principal.role, 'ROLE_OPERATOR');
    const agents = await withToken(secret, 'GET', '/api/v1/agents');
    assert.equal(agents.status, 200, JSON.stringify(agents.body));
    // Its use reaches the page over the stream (TokenUsed): no longer "never used".
    await tokenRow.getByRole('cell').nth(5).filter({ hasNotText: 'never' }).waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'Revoke token e2e-script' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token e2e-script' });
    await confirm.getByText(/refused from now on/).waitFor();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await tokenRow.getByText('Revoked').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Revoke token e2e-script' }).count(), 0);

    const refused = await withToken(secret, 'GET', '/api/v1/agents');
    assert.equal(refused.status, 401, `a revoked token is refused: ${JSON.stringify(refused.body)}`);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test("an operator's grant request reaches the admin's Grants page live, and the admin approves it", async () => {
  const actx = await newContext(browser, portal);
  const octx = await newContext(browser, portal);
  try {
    const admin = await actx.newPage();
    await devLogin(admin, ADMIN.email, 'admin', ADMIN.name);
    const frames = watchFrames(admin);
    await admin.goto('/admin/grants');
    await admin.getByRole('heading', { name: 'Grants' }).waitFor();
    await connectionOpen(admin).waitFor();
    await subscribed(admin, frames, 'grants');
    await admin.evaluate(() => {
      window.__e2eNoReload = true;
    });

    // The header's request button is not wired yet: the operator asks
    // through the API from their page, as RequestGrantDialog does.
    const op = await octx.newPage();
    await devLogin(op, OPERATOR.email, 'operator', OPERATOR.name);
    const asked = await pageFetch(op, 'POST', '/api/v1/grants', {
      role: 'ROLE_ADMIN',
      reason: 'e2e: incident 42, rotate the keys',
      duration: '3600s',
    });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.equal(asked.body.grant.state, 'GRANT_STATE_PENDING');

    const grantRow = row(admin, 'Grant list', 'e2e: incident 42');
    await grantRow.getByText('Pending').waitFor({ timeout: 15_000 });
    assert.equal(await admin.evaluate(() => window.__e2eNoReload), true, 'the page was not reloaded');
    const about = frames.filter((f) => f.includes(`grants/${asked.body.grant.id}`));
    assert.ok(about.length >= 1, 'the request came over the stream');

    await grantRow.getByRole('button', { name: `Approve the grant for ${OPERATOR.email}` }).click();
    const dialog = admin.getByRole('dialog', { name: `Approve the grant for ${OPERATOR.email}` });
    await dialog.getByLabel(/Note/).fill('approved for the incident');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await admin.getByText(`Approved: ${OPERATOR.email}, admin`, { exact: true }).first().waitFor();
    await grantRow.getByText('Active').waitFor();
    await grantRow.getByText(/\bleft$/).waitFor();
    await grantRow.getByText(ADMIN.email).waitFor();

    // The operator is an admin now, for the grant's hour.
    const me = await pageFetch(op, 'GET', '/api/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.principal.role, 'ROLE_ADMIN');
    assert.equal(me.body.principal.baseRole, 'ROLE_OPERATOR');
    await screenshot(admin, 'admin-grant-approved');
    assert.deepEqual(actx.problems, [], 'no page errors or console errors (admin)');
    assert.deepEqual(octx.problems, [], 'no page errors or console errors (operator)');
  } finally {
    await actx.close();
    await octx.close();
  }
});

test("the admin changes the operator's role on the Users page", async () => {
  const ctx = await newContext(browser, portal);
  const ctx2 = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, ADMIN.email, 'admin', ADMIN.name);
    await page.goto('/admin/users');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    // A second admin's Users page, to see the change arrive live.
    const other = await ctx2.newPage();
    await devLogin(other, 'bob@example.com', 'admin', 'Bob Admin');
    const frames = watchFrames(other);
    await other.goto('/admin/users');
    await connectionOpen(other).waitFor();
    await subscribed(other, frames, 'users');

    const userRow = row(page, 'User list', OPERATOR.email);
    await userRow.getByText('no rule matches').waitFor();
    await page.getByRole('button', { name: `Change role of ${OPERATOR.email}` }).click();
    const dialog = page.getByRole('dialog', { name: /Change the role of/ });
    await dialog.getByLabel('viewer', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Change role' }).click();
    // (.first(): Radix also announces the toast in a live region)
    await page.getByText(`${OPERATOR.name} is now viewer`, { exact: true }).first().waitFor();
    await userRow.getByText('assigned by an admin').waitFor();
    await userRow.getByText('viewer', { exact: true }).waitFor();

    const otherRow = row(other, 'User list', OPERATOR.email);
    await otherRow.getByText('assigned by an admin').waitFor({ timeout: 15_000 });
    await otherRow.getByText('viewer', { exact: true }).waitFor();

    const users = await portal.api('GET', `/api/v1/users?query=${encodeURIComponent(OPERATOR.email)}`);
    assert.equal(users.users[0].assignedRole, 'ROLE_VIEWER');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
    assert.deepEqual(ctx2.problems, [], 'no page errors or console errors (second admin)');
  } finally {
    await ctx.close();
    await ctx2.close();
  }
});

/**
 * seed gives the Grants page more to show than the approved grant: a denied
 * one (with a note) and a pending one. Once, for all the screenshot tests.
 */
let seeded;
async function seed() {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    const denied = await pageFetch(page, 'POST', '/api/v1/grants', {
      role: 'ROLE_OPERATOR',
      reason: 'restart the billing agents after the deploy',
      duration: '1800s',
    });
    assert.equal(denied.status, 200, JSON.stringify(denied.body));
    await portal.api('POST', `/api/v1/grants/${denied.body.grant.id}:deny`, { reason: 'ask Olga, she is on call' });
    await devLogin(page, OPERATOR.email, 'operator', OPERATOR.name);
    const pending = await pageFetch(page, 'POST', '/api/v1/grants', {
      role: 'ROLE_ADMIN',
      reason: 'extend the incident access for the post-mortem',
      duration: '14400s',
    });
    assert.equal(pending.status, 200, JSON.stringify(pending.body));
  } finally {
    await ctx.close();
  }
}

const pages = [
  { name: 'users', path: '/admin/users', heading: 'Users', ready: (p) => row(p, 'User list', OPERATOR.email).waitFor() },
  { name: 'tokens', path: '/admin/tokens', heading: 'API tokens', ready: (p) => row(p, 'Token list', 'e2e-script').waitFor() },
  {
    name: 'grants',
    path: '/admin/grants',
    heading: 'Grants',
    ready: (p) => row(p, 'Grant list', 'post-mortem').getByText('Pending').waitFor(),
  },
];

for (const theme of THEMES) {
  for (const vpName of Object.keys(VIEWPORTS)) {
    test(`the admin pages under axe and in screenshots: ${theme} theme, ${vpName}`, async () => {
      const ctx = await themedContext(browser, portal, theme, vpName);
      const found = [];
      seeded ??= seed();
      await seeded;
      try {
        const page = await ctx.newPage();
        await devLogin(page, ADMIN.email, 'admin', ADMIN.name);
        for (const p of pages) {
          await page.goto(p.path);
          await page.getByRole('heading', { name: p.heading, exact: true }).waitFor();
          await p.ready(page);
          await connectionOpen(page).waitFor();
          await settled(page);
          assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
          const label = `${p.name} (${theme}, ${vpName})`;
          found.push(...(await axeProblems(page, label)));
          found.push(...(await overflowProblems(page, label)));
          await screenshot(page, `admin-${p.name}-${theme}-${vpName}`);
        }
        // A dialog too: the role change, on the Users page.
        await page.goto('/admin/users');
        await page.getByRole('button', { name: `Change role of ${OPERATOR.email}` }).click();
        const dialog = page.getByRole('dialog', { name: /Change the role of/ });
        await dialog.getByRole('button', { name: 'Change role' }).waitFor();
        found.push(...(await axeProblems(page, `role dialog (${theme}, ${vpName})`, { include: 'dialog' })));
        await screenshot(page, `admin-role-dialog-${theme}-${vpName}`);
        assert.deepEqual(found, [], found.join('\n'));
        assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
      } finally {
        await ctx.close();
      }
    });
  }
}
