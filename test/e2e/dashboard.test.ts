// End to end in Debian's Chromium: the composed platform over the plant emulator, the built
// dashboard, real protocols. Screenshots go to test-results/e2e/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandSkipReason, serviceSkipReason } from '@gemba/core/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoStack, launchChromium, startDemoStack } from './demo-stack.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/e2e/', import.meta.url));
const LINE = 'acme/plant1/assembly/line1';
const chromiumSkip = await commandSkipReason('/usr/bin/chromium', 'apt-get install chromium');
const mqttSkip = await serviceSkipReason('mosquitto');

describe.skipIf(chromiumSkip !== undefined || mqttSkip !== undefined)(
  'dashboard against the running demo',
  () => {
    let stack: DemoStack;
    let browser: Browser;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], {
        cwd: fileURLToPath(new URL('../../packages/web/', import.meta.url)),
        stdio: 'inherit',
      });
      stack = await startDemoStack({ speed: 1, mqttUrl: 'mqtt://127.0.0.1:1883' });
      browser = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
    });

    async function open(role: keyof DemoStack['tokens'], hash = ''): Promise<Page> {
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await ctx.newPage();
      await page.goto(`${stack.url}/?token=${stack.tokens[role].token}${hash}`);
      await page.waitForSelector('[data-testid=connection]', { timeout: 15_000 });
      return page;
    }

    it('shows all six stations in flow order with live states and a throughput', async () => {
      const page = await open('admin');
      await page.waitForFunction(
        () => {
          const st = [...document.querySelectorAll('[data-testid=station]')];
          return st.length === 6 && st.every((s) => s.getAttribute('data-state') !== 'offline');
        },
        undefined,
        { timeout: 30_000 },
      );
      const ids = await page.$$eval('[data-testid=station]', (els) =>
        els.map((e) => e.getAttribute('data-station')),
      );
      expect(ids).toEqual(['press', 'weld', 'oven', 'assembly', 'test', 'pack']);
      // The token left the address bar (kept in sessionStorage).
      expect(page.url()).not.toContain('token=');
      await page.waitForFunction(
        () => /\d/.test(document.querySelector('[data-testid=throughput]')?.textContent ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      await page.screenshot({ path: `${SHOTS}overview.png`, fullPage: true });
      const metrics = await page.evaluate(async (token) => {
        const r = await fetch('/metrics', { headers: { authorization: `Bearer ${token}` } });
        return r.text();
      }, stack.tokens.viewer.token);
      expect(metrics).toContain('gemba_source_up{source="opcua-press-weld",state="connected"} 1');
      expect(metrics).toMatch(/gemba_samples_in_total [1-9]/);
      await page.context().close();
    });

    it('turns a broken station DOWN within 2 s and raises an alarm; a viewer cannot acknowledge, an operator can', async () => {
      const page = await open('viewer');
      await page.waitForSelector('[data-station=weld]:not([data-state=offline])', { timeout: 30_000 });
      const t0 = Date.now();
      await stack.plant.inject({ kind: 'breakdown', station: 'weld', durationS: 120, faultCode: 42 });
      await page.waitForSelector('[data-station=weld][data-state=down]', { timeout: 2000 });
      const downAfterMs = Date.now() - t0;
      expect(downAfterMs).toBeLessThanOrEqual(2000);
      await page.waitForSelector('[data-testid=overview-alarms]', { timeout: 5000 });
      await page.screenshot({ path: `${SHOTS}station-down.png`, fullPage: true });

      // The viewer sees the alarm but cannot acknowledge it (button disabled; the API refuses).
      await page.goto(`${stack.url}/#/alarms`);
      await page.waitForSelector(`tr[data-alarm^="${LINE}/weld"]`, { timeout: 5000 });
      const row = page.locator(`tr[data-alarm^="${LINE}/weld"]`).first();
      expect(await row.getByRole('button', { name: 'Acknowledge' }).isDisabled()).toBe(true);
      const id = (await row.getAttribute('data-alarm')) as string;
      const refused = await page.evaluate(
        async ([alarm, token]) => {
          const r = await fetch(`/api/alarms/${encodeURIComponent(alarm as string)}/ack`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: '{}',
          });
          return { status: r.status, body: await r.json() };
        },
        [id, stack.tokens.viewer.token],
      );
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('GEMBA_API_FORBIDDEN');
      await page.screenshot({ path: `${SHOTS}alarms-viewer.png`, fullPage: true });
      await page.context().close();

      const op = await open('operator', '#/alarms');
      const opRow = op.locator(`tr[data-alarm="${id}"]`);
      await opRow.getByRole('button', { name: 'Acknowledge' }).click();
      await op.waitForSelector(`tr[data-alarm="${id}"][data-acknowledged=true]`, { timeout: 5000 });
      await op.screenshot({ path: `${SHOTS}alarms-operator-acked.png`, fullPage: true });
      await op.context().close();
    });

    it('reconnects after a dropped connection and resumes from its last sequence number without a gap', async () => {
      const page = await open('viewer', `#/asset/${encodeURIComponent(`${LINE}/press`)}`);
      const sp = `${LINE}/press/speed_setpoint`;
      await page.waitForSelector(`[data-path="${sp}"]`, { timeout: 10_000 });
      const metric = async (name: string): Promise<number> => {
        const text = await page.evaluate(async (token) => {
          const r = await fetch('/metrics', { headers: { authorization: `Bearer ${token}` } });
          return r.text();
        }, stack.tokens.viewer.token);
        return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
      };
      const resumesBefore = await metric('gemba_live_resumes_total');
      // Drop every live connection from the server side, then change a value while the
      // dashboard is disconnected: it must show the change once it has resumed.
      for (const ws of stack.app.websocketServer.clients) ws.terminate();
      expect(stack.plant.write(sp, 111, 'e2e')).toBe(true);
      await page.waitForFunction(
        (path) => document.querySelector(`[data-path="${path}"]`)?.textContent?.startsWith('111'),
        sp,
        { timeout: 10_000 },
      );
      await page.waitForSelector('[data-testid=connection]:has-text("live")', { timeout: 10_000 });
      expect(await metric('gemba_live_resumes_total')).toBeGreaterThan(resumesBefore);
      await page.context().close();
    });

    it('runs a what-if and shows its result', async () => {
      const page = await open('engineer', '#/whatif');
      await page.getByRole('button', { name: 'Add a change' }).click();
      await page.getByLabel('Value').fill('0.8');
      await page.locator('label', { hasText: 'Horizon' }).locator('input').fill('2');
      await page.locator('label', { hasText: 'Replications' }).locator('input').fill('4');
      await page.getByTestId('run-whatif').click();
      await page.waitForSelector('[data-testid=whatif-job][data-status=done]', { timeout: 60_000 });
      const rows = await page.$$eval('[data-testid=whatif-result] tbody tr', (els) =>
        els.map((e) => e.textContent ?? ''),
      );
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/baseline\s*\d/);
      expect(await page.getByTestId('calibration').textContent()).toContain('Calibration');
      await page.screenshot({ path: `${SHOTS}whatif.png`, fullPage: true });
      await page.context().close();
    });

    it('shows a trend on a station page', async () => {
      const page = await open('viewer', `#/asset/${encodeURIComponent(`${LINE}/oven/zone2`)}`);
      await page.waitForSelector('[data-testid=trend] .uplot', { timeout: 10_000 });
      // Wait until the trend holds a few live points.
      await page.waitForFunction(
        () =>
          (document.querySelector('[data-testid=signals] [data-status]')?.getAttribute('data-status') ??
            '') !== 'no data',
        undefined,
        { timeout: 10_000 },
      );
      await new Promise((r) => setTimeout(r, 3000));
      await page.screenshot({ path: `${SHOTS}station-trend.png`, fullPage: true });
      const press = await open('viewer', `#/asset/${encodeURIComponent(`${LINE}/press`)}`);
      await press.waitForSelector('[data-testid=trend] .uplot', { timeout: 10_000 });
      await press.waitForSelector('[data-testid=station-state] [data-state]', { timeout: 10_000 });
      // Live data comes over the WebSocket: after loading, a station page makes no REST requests.
      await new Promise((r) => setTimeout(r, 1000));
      let requests = 0;
      press.on('request', (r) => {
        if (r.url().includes('/api/')) requests++;
      });
      await new Promise((r) => setTimeout(r, 3000));
      expect(requests).toBe(0);
      await press.screenshot({ path: `${SHOTS}station-press.png`, fullPage: true });
      await press.context().close();
      await page.context().close();
    });

    it('History: two signals over 15 min, shown as a chart and exported as CSV with rows', async () => {
      const page = await open('viewer', '#/history');
      await page.getByLabel('Find signals').fill('zone');
      const z1 = `${LINE}/oven/zone1/temperature`;
      const z2 = `${LINE}/oven/zone2/temperature`;
      await page.getByRole('checkbox', { name: /oven\/zone1\/temperature/ }).check();
      await page.getByRole('checkbox', { name: /oven\/zone2\/temperature/ }).check();
      await page.getByLabel('Range').selectOption({ label: '15 min' });
      // The embedded historian holds the demo's first minutes once the writer has flushed them.
      await expect
        .poll(
          async () => {
            await page.getByRole('button', { name: 'Show' }).click();
            return page.locator('.uplot').count();
          },
          { timeout: 20_000, interval: 1000 },
        )
        .toBe(1);
      const legend = await page.$$eval('.uplot .u-legend .u-series .u-label', (els) =>
        els.map((e) => e.textContent ?? ''),
      );
      expect(legend.filter((l) => l.includes('temperature'))).toEqual([
        'oven/zone1/temperature [°C]',
        'oven/zone2/temperature [°C]',
      ]);
      await page.screenshot({ path: `${SHOTS}history.png`, fullPage: true });
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export CSV' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('gemba-history.csv');
      const csv = readFileSync((await download.path()) as string, 'utf8')
        .trim()
        .split('\n');
      expect(csv[0]).toBe(`time,${z1} [°C],${z2} [°C]`);
      expect(csv.length).toBeGreaterThan(5);
      // Rows: an ISO time within the last 15 min and two temperatures near the oven's 180 °C.
      const [time, a, b] = (csv[csv.length - 1] as string).split(',');
      expect(Date.now() - Date.parse(time as string)).toBeLessThan(15 * 60_000);
      expect(Number(a)).toBeGreaterThan(20);
      expect(Number(b)).toBeGreaterThan(20);
      await page.context().close();
    });

    it('a station page shows the downtime Pareto with a breakdown and its fault code', async () => {
      await stack.plant.inject({ kind: 'breakdown', station: 'pack', durationS: 60, faultCode: 77 });
      const page = await open('viewer', `#/asset/${encodeURIComponent(`${LINE}/pack`)}`);
      const pareto = page.locator('h2:has-text("Downtime Pareto") + table');
      const row = pareto.locator('tr', { hasText: 'DOWN (fault 77)' });
      await row.waitFor({ timeout: 10_000 });
      expect(await row.locator('td').nth(2).textContent()).toBe('1×');
      // Longest first: the first row's bar is full, every other one no longer.
      const widths = await pareto
        .locator('.bar span')
        .evaluateAll((els) => els.map((e) => Number.parseFloat((e as HTMLElement).style.width)));
      expect(widths[0]).toBe(100);
      expect(widths.every((w) => w <= 100)).toBe(true);
      await page.screenshot({ path: `${SHOTS}station-pareto.png`, fullPage: true });
      await page.context().close();
    });

    it('an operator shelves an alarm from the alarm list; it leaves the overview and the journal names the operator', async () => {
      await stack.plant.inject({ kind: 'breakdown', station: 'test', durationS: 120, faultCode: 55 });
      const id = `${LINE}/test:fault`;
      const op = await open('operator');
      // Before: the overview lists it among the alarms needing attention.
      const onOverview = op.locator('[data-testid=overview-alarms] tr', { hasText: 'Test is faulted' });
      await onOverview.waitFor({ timeout: 10_000 });
      await op.getByRole('link', { name: /^Alarms/ }).click();
      const row = op.locator(`tr[data-alarm="${id}"]`);
      await row.waitFor({ timeout: 10_000 });
      await row.getByRole('button', { name: 'Shelve 1 h' }).click();
      await op.waitForSelector('[data-testid=alarm-message]:has-text("Shelved for 60 min.")', {
        timeout: 5000,
      });
      await row.filter({ hasText: 'SHELVED until' }).waitFor({ timeout: 5000 });
      expect(await row.getByRole('button', { name: 'Shelve 1 h' }).isDisabled()).toBe(true);
      await op
        .locator('[data-testid=journal] tr', { hasText: 'shelve' })
        .filter({ hasText: `by ${stack.tokens.operator.name}` })
        .first()
        .waitFor({ timeout: 5000 });
      await op.screenshot({ path: `${SHOTS}alarm-shelved.png`, fullPage: true });
      const alarm = stack.engine.alarms({ all: true }).find((a) => a.id === id);
      expect(alarm).toMatchObject({ shelved: true, shelvedBy: stack.tokens.operator.name });
      expect((alarm?.shelvedUntil ?? 0) - Date.now()).toBeGreaterThan(59 * 60_000);
      // After: the overview leaves it out while the station is still down.
      await op.getByRole('link', { name: 'Overview' }).click();
      await op.waitForSelector('[data-station=test][data-state=down]', { timeout: 10_000 });
      expect(await onOverview.count()).toBe(0);
      await op.context().close();
    });

    it('pauses live updates (button), holds a change, and applies it on resume (p key)', async () => {
      const page = await open('viewer', `#/asset/${encodeURIComponent(`${LINE}/weld`)}`);
      const sp = `${LINE}/weld/speed_setpoint`;
      await page.waitForSelector(`[data-path="${sp}"]`, { timeout: 10_000 });
      expect(stack.plant.write(sp, 97, 'e2e')).toBe(true);
      await page.waitForFunction(
        (path) => document.querySelector(`[data-path="${path}"]`)?.textContent?.startsWith('97'),
        sp,
        {
          timeout: 10_000,
        },
      );
      await page.getByTestId('pause').click();
      await page.waitForSelector('.paused-banner[role=status]', { timeout: 2000 });
      expect(await page.getByTestId('pause').getAttribute('aria-pressed')).toBe('true');
      expect(stack.plant.write(sp, 103, 'e2e')).toBe(true);
      // The server's twin has the new value; the paused screen must keep the old one.
      await expect.poll(() => stack.engine.signal(sp)?.value, { timeout: 10_000, interval: 100 }).toBe(103);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await page.locator(`[data-path="${sp}"]`).textContent()).toMatch(/^97/);
      await page.screenshot({ path: `${SHOTS}paused.png`, fullPage: true });
      await page.locator('body').press('p');
      await page.waitForFunction(
        (path) => document.querySelector(`[data-path="${path}"]`)?.textContent?.startsWith('103'),
        sp,
        {
          timeout: 5000,
        },
      );
      expect(await page.locator('.paused-banner').count()).toBe(0);
      await page.context().close();
    });

    it('reaches the main navigation and every station tile with Tab, with a visible focus ring', async () => {
      const page = await open('viewer');
      await page.waitForSelector('[data-testid=station]', { timeout: 15_000 });
      const reached: Array<{ text: string; nav: boolean; station: string | null; outline: string }> = [];
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        reached.push(
          await page.evaluate(() => {
            const el = document.activeElement as HTMLElement | null;
            return {
              text: (el?.textContent ?? '').trim(),
              nav: el?.closest('nav[aria-label=Main]') !== null,
              station: el?.closest('[data-testid=station]')?.getAttribute('data-station') ?? null,
              outline: el === null ? 'none' : getComputedStyle(el).outlineStyle,
            };
          }),
        );
      }
      const nav = reached.filter((r) => r.nav).map((r) => r.text.replace(/\s+\d+$/, ''));
      expect(nav.slice(0, 4)).toEqual(['Overview', 'Alarms', 'History', 'What-if']);
      const stations = reached.filter((r) => r.station !== null).map((r) => r.station);
      expect([...new Set(stations)]).toEqual(['press', 'weld', 'oven', 'assembly', 'test', 'pack']);
      // Reading order: the navigation comes before the stations.
      expect(reached.findIndex((r) => r.nav)).toBeLessThan(reached.findIndex((r) => r.station !== null));
      expect(reached.filter((r) => r.nav || r.station !== null).every((r) => r.outline === 'solid')).toBe(
        true,
      );
      // Enter on a focused station tile opens its page.
      while (
        (await page.evaluate(() =>
          document.activeElement?.closest('[data-testid=station]')?.getAttribute('data-station'),
        )) !== 'oven'
      )
        await page.keyboard.press('Shift+Tab');
      await page.screenshot({ path: `${SHOTS}keyboard-focus.png` });
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => decodeURIComponent(location.hash).endsWith('/line1/oven'), undefined, {
        timeout: 5000,
      });
      await page.context().close();
    });
  },
);
