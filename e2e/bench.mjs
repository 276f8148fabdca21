// `make bench`'s browser figures, measured in Debian's chromium on loopback
// against bin/portal with 14 agents: the time from navigation to the
// dashboard's first render with data (its agent count shown), and the
// gzipped size of the JavaScript the first route loads. Bounded: five loads.
import { gzipSync } from 'node:zlib';

import { Portal, devLogin, newBrowser, withTimeout } from './portal.mjs';

const LOADS = 5;
const AGENTS = 14;

const portal = new Portal();
let browser;
try {
  await portal.start();
  for (let i = 0; i < AGENTS; i++) {
    await portal.api('POST', '/api/v1/agents', { name: `bench-${i}`, kind: 'AGENT_KIND_BLANK' });
  }
  browser = await newBrowser();
  const context = await browser.newContext({ baseURL: portal.url, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await devLogin(page, 'bench@example.com', 'viewer');

  // What the first route loads: every script response of one fresh load.
  const scripts = new Map();
  page.on('response', async (r) => {
    if (r.request().resourceType() === 'script' && r.ok()) {
      scripts.set(r.url(), await r.body());
    }
  });

  const times = [];
  for (let i = 0; i < LOADS; i++) {
    await page.goto('about:blank');
    await page.goto('/', { waitUntil: 'commit' });
    // performance.now() counts from this navigation's start.
    const ms = await withTimeout(
      page.waitForFunction(
        (n) => {
          // The "Agents" key figure, by its accessible text: "Agents 14 …".
          const region = [...document.querySelectorAll('section')].find(
            (sec) => sec.querySelector('h2')?.textContent?.trim() === 'Key figures',
          );
          const agents = [...(region?.querySelectorAll('a, [role="group"], div') ?? [])].find((el) =>
            new RegExp(`^\\s*Agents\\s*${n}(\\D|$)`).test(el.textContent ?? ''),
          );
          return agents ? performance.now() : false;
        },
        AGENTS,
        { timeout: 15_000, polling: 'raf' },
      ).then((h) => h.jsonValue()),
      20_000,
      'the dashboard showing its agent count',
    );
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  let raw = 0;
  let gz = 0;
  for (const body of scripts.values()) {
    raw += body.length;
    gz += gzipSync(body).length;
  }
  const median = times[Math.floor(times.length / 2)];
  console.log(`BenchmarkDashboardFirstRender\t${LOADS}\t${median.toFixed(0)} median-ms\t${times[0].toFixed(0)} min-ms\t${times.at(-1).toFixed(0)} max-ms`);
  console.log(`BenchmarkFirstRouteJS\t${scripts.size} scripts\t${(raw / 1024).toFixed(1)} KiB\t${(gz / 1024).toFixed(1)} KiB-gzipped`);
} finally {
  await browser?.close();
  await portal.stop();
}
