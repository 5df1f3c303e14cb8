import { InProcessBus, loadModelFile, RealClock, silentLogger } from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { BusTwin, createServer, SimJobs } from '../src/index.ts';
import { as, DEMO_MODEL, TOKENS } from './fixtures.ts';

const L = 'acme/plant1/assembly/line1';

describe('what-if jobs through the API', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('runs a what-if job (engineer only) and reports throughput and bottleneck per scenario with CIs', async () => {
    const model = await loadModelFile(DEMO_MODEL);
    const clock = new RealClock();
    const logger = silentLogger();
    const bus = new InProcessBus({ clock, logger });
    const sim = new SimJobs({ model, clock, logger, workers: 0 });
    app = await createServer({
      runtime: {
        model,
        clock,
        historian: new MemoryHistorian(),
        twin: new BusTwin({ model, bus, clock, logger }),
        sim,
      },
      logger,
      auth: { tokens: Object.values(TOKENS) },
    });
    const body = {
      line: L,
      scenarios: [
        {
          name: 'press 20 % faster',
          changes: [{ target: `${L}/press`, parameter: 'cycleTimeFactor', value: 0.8 }],
        },
        {
          name: 'bigger buffer',
          changes: [{ target: `${L}/weld-oven`, parameter: 'bufferCapacity', value: 40 }],
        },
        {
          name: 'zone 2 cooler',
          changes: [{ target: `${L}/oven/zone2/setpoint`, parameter: 'setpoint', value: 175 }],
        },
      ],
      horizonH: 2,
      replications: 3,
    };
    const operator = await app.inject({
      method: 'POST',
      url: '/api/sim/jobs',
      headers: as('operator'),
      payload: body,
    });
    expect(operator.statusCode).toBe(403);
    const badTarget = await app.inject({
      method: 'POST',
      url: '/api/sim/jobs',
      headers: as('engineer'),
      payload: { ...body, line: 'acme/nowhere' },
    });
    expect(badTarget.statusCode).toBe(400);
    const started = await app.inject({
      method: 'POST',
      url: '/api/sim/jobs',
      headers: as('engineer'),
      payload: body,
    });
    expect(started.statusCode).toBe(200);
    const id = started.json().id as string;
    await sim.idle();
    const job = (
      await app.inject({ method: 'GET', url: `/api/sim/jobs/${id}`, headers: as('viewer') })
    ).json();
    expect(job.status, job.error).toBe('done');
    expect(job.progress).toBe(1);
    const { baseline, scenarios } = job.result;
    expect(baseline.throughputPerHour.mean).toBeGreaterThan(0);
    expect(baseline.throughputPerHour.lo).toBeLessThanOrEqual(baseline.throughputPerHour.mean);
    expect(baseline.bottleneck.station.startsWith(`${L}/`)).toBe(true);
    expect(scenarios.map((s: { name: string }) => s.name)).toEqual([
      'press 20 % faster',
      'bigger buffer',
      'zone 2 cooler',
    ]);
    expect(scenarios[0].throughputDiffPerHour).toHaveProperty('mean');
    // Uncalibrated, the oven's scrap does not depend on its temperature: the cooler zone's
    // scenario says it cannot show a change in scrap; the others have nothing to warn about.
    expect(scenarios[2].warnings).toEqual([expect.stringContaining('no scrap curve calibrated')]);
    expect(scenarios[0].warnings).toEqual([]);
    const list = (await app.inject({ method: 'GET', url: '/api/sim/jobs', headers: as('viewer') })).json();
    expect(list).toHaveLength(1);
  });
});
