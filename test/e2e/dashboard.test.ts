// End to end in Debian's Chromium: the composed platform over the plant emulator, the built
// dashboard, real protocols. Screenshots go to test-results/e2e/.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
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
  },
);
