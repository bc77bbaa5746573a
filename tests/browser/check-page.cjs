// Opens a saasctl release page in headless Debian chromium (Playwright, no
// downloaded browser) and prints what a person would see, as JSON: rows,
// counts, script errors, requests that left the file, first paint, and
// the same page with JavaScript off. Used by the e2e tests and the bench.
//
//   node check-page.cjs PAGE.html SCREENSHOT.png
// SAAS_PLAYWRIGHT: path of the playwright-core package; SAAS_CHROMIUM: the browser.
const { chromium } = require(process.env.SAAS_PLAYWRIGHT);

const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function look(browser, url, javaScriptEnabled) {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  await page.goto(url, { waitUntil: 'load' });
  // First contentful paint; a tiny page can load before it paints, so wait
  // for the entry (up to 10 s) instead of reading it once.
  // (Only with JavaScript on: timers do not run in a page without it.)
  const paint = !javaScriptEnabled ? null : await page.evaluate(() => new Promise((resolve) => {
    const done = (list) => {
      const fcp = list.getEntriesByName('first-contentful-paint')[0];
      if (fcp) resolve(fcp.startTime);
    };
    new PerformanceObserver(done).observe({ type: 'paint', buffered: true });
    setTimeout(() => resolve(null), 10000);
  }));
  const rows = await page.$$eval('#tenants tbody tr', (trs) => trs.map((tr) => ({
    tenant: tr.cells[0].innerText,
    result: tr.className.slice(2),
    changes: tr.cells[3].innerText,
    diagnostic: tr.cells[8].innerText,
    visible: tr.offsetParent !== null,
  })));
  const counts = await page.$$eval('.counts li', (lis) => lis.map((li) => li.innerText));
  const bars = await page.$$eval('.lane i', (is) => is.length);
  const images = await page.$$eval('img', (is) => is.length);
  const filtersShown = await page.$eval('.filters', (p) => !p.hidden);
  return { page, context, errors, requests, paint, rows, counts, bars, images, filtersShown };
}

(async () => {
  const [file, screenshot] = process.argv.slice(2);
  const url = 'file://' + require('path').resolve(file);
  const browser = await chromium.launch({ executablePath: process.env.SAAS_CHROMIUM || '/usr/bin/chromium', args: FLAGS });
  const started = Date.now();
  const on = await look(browser, url, true);
  const loadMs = Date.now() - started;
  // The script's filter: only failed rows stay visible.
  let failedVisible = null;
  if (on.filtersShown && on.rows.some((r) => r.result === 'failed')) {
    await on.page.selectOption('#result', 'failed');
    failedVisible = await on.page.$$eval('#tenants tbody tr', (trs) => trs.filter((t) => t.offsetParent !== null).length);
    await on.page.selectOption('#result', '');
  }
  if (screenshot) await on.page.screenshot({ path: screenshot, fullPage: false });
  const off = await look(browser, url, false);
  console.log(JSON.stringify({
    load_ms: loadMs,
    first_paint_ms: on.paint,
    errors: on.errors.concat(off.errors),
    requests: on.requests.concat(off.requests),
    rows: on.rows,
    counts: on.counts,
    bars: on.bars,
    images: on.images,
    filters_shown: on.filtersShown,
    failed_visible_after_filter: failedVisible,
    without_js: { rows: off.rows.length, bars: off.bars, filters_shown: off.filtersShown },
  }));
  await browser.close();
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
