// SPDX-License-Identifier: GPL-3.0-or-later
// Drives Debian's chromium (headless, through playwright-core from service/web/node_modules) over
// the review page: the queue shows the job, the 3D view renders the upload with highlighted
// regions, a reason is typed and Approve clicked. Prints a JSON summary for service_browser_test.py.
// Usage: node service_browser_test.mjs BASE_URL REVIEWER_TOKEN JOB_ID SCREENSHOT.png
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [base, token, jobId, screenshot] = process.argv.slice(2);
const web = process.env.PARTSCREEN_WEB;
const { chromium } = await import(pathToFileURL(path.join(web, 'node_modules/playwright-core/index.mjs')).href);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
const out = { errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  page.on('pageerror', (e) => out.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push(m.text()); });
  await page.goto(`${base}/review/#token=${token}`);
  await page.waitForFunction(() => window.__review && window.__review.rendered, null, { timeout: 60000 });
  await page.click(`#queue li[data-id="${jobId}"]`);
  await page.waitForFunction((id) => window.__review.rendered && window.__review.job && window.__review.job.id === id,
                             jobId, { timeout: 60000 });
  Object.assign(out, await page.evaluate(() => ({
    triangles: window.__review.triangles, highlighted: window.__review.highlighted, points: window.__review.points,
    queue: [...document.querySelectorAll('#queue li')].map((li) => li.dataset.id),
    tokenInUrl: location.href.includes('token'),
  })));
  // What the canvas shows: pixels that are neither the background nor transparent, and red ones.
  Object.assign(out, await page.evaluate(() => {
    const c = document.querySelector('#view canvas');
    const copy = document.createElement('canvas');
    copy.width = c.width; copy.height = c.height;
    const g = copy.getContext('2d');
    g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let drawn = 0, red = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - 250) + Math.abs(d[i + 1] - 250) + Math.abs(d[i + 2] - 250) > 30) drawn++;
      if (d[i] > 150 && d[i + 1] < 90 && d[i + 2] < 90) red++;
    }
    return { canvas: [c.width, c.height], drawnPixels: drawn, redPixels: red };
  }));
  // The notes a reviewer reads under a match: a clean copy has none; a cut, fused, thickened
  // one says so in words.
  out.notes = await page.evaluate(() => ({
    plain: window.__review.matchNotes({ absent: 0, hidden: 0, wall_mismatch: 0, explained: 0.95, scale: 1, filled_in: false,
                                        parts: [{ file: 'a.stl', component: 0, reassembled: false, enclosed: false }] }),
    odd: window.__review.matchNotes({ absent: 0.12, hidden: 0.24, wall_mismatch: 0.45, explained: 0.4, scale: 25.3, filled_in: true,
                                      parts: [{ file: 'a.stl', component: 0, reassembled: true, enclosed: false },
                                              { file: 'a.stl', component: 1, reassembled: true, enclosed: false }] }),
    walls: window.__review.matchNotes({ absent: 0, hidden: 0, wall_mismatch: 0.19, explained: 0.8, scale: 0.76, filled_in: false,
                                        parts: [{ file: 'a.stl', component: 0, reassembled: false, enclosed: false }] }),
    rows: [...document.querySelectorAll('#matches tbody tr')].map((tr) => tr.className || 'match'),
  }));
  await page.screenshot({ path: screenshot });
  await page.fill('#reason', 'browser test: reviewed the highlighted regions');
  await page.click('#approve');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Approved'), null,
                             { timeout: 30000 });
  out.status = await page.textContent('#status');
  out.queueAfter = await page.evaluate(() => [...document.querySelectorAll('#queue li')].map((li) => li.dataset.id));
} catch (e) {
  out.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
