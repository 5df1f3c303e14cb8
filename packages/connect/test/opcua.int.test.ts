import { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock, type Sample, type SourceStatus, silentLogger } from '@gemba/core';
import { Collector, sourceContractSuite } from '@gemba/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browseServer } from '../src/opcua/browse.ts';
import { discoverEndpoints } from '../src/opcua/discover.ts';
import type { OpcuaSource } from '../src/opcua/driver.ts';
import { createSource } from '../src/source/create-source.ts';
import { sig, sourceDef, testModel } from './fixtures/model.ts';
import { startOpcuaServer, type TestOpcuaServer } from './fixtures/opcua-server.ts';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gemba-opcua-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function opcuaModel(endpoint: string, extra: Record<string, unknown> = {}) {
  return testModel([
    {
      id: 'plc',
      protocol: 'opcua',
      endpoint,
      samplingIntervalMs: 20,
      bindings: [
        { signal: 'm1/count', nodeId: 'ns=1;s=m.counter', queueSize: 100 },
        { signal: 'm1/temp', nodeId: 'ns=1;s=m.temp' },
        { signal: 'm1/setpoint', nodeId: 'ns=1;s=m.setpoint' },
        { signal: 'm1/mode', nodeId: 'ns=1;s=m.name' },
      ],
      ...extra,
    },
  ]);
}

const ALL = [sig('count'), sig('temp'), sig('setpoint'), sig('mode')];

/** The first item collected that satisfies `pred`, waiting up to `timeoutMs` for it. */
async function firstOf<T>(c: Collector<T>, pred: (x: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = c.items.find(pred);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`none of ${c.items.length} items matched in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('OPC UA client against a node-opcua server', () => {
  let server: TestOpcuaServer | undefined;
  sourceContractSuite('opcua (node-opcua server)', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    const port = server.port;
    const model = opcuaModel(server.endpoint);
    const source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client'),
    });
    return {
      source,
      signals: ALL,
      produce: async () => {
        if (server !== undefined) server.counter = server.counter + 1;
      },
      breakPeer: async () => {
        await server?.stop();
      },
      restorePeer: async () => {
        server = await startOpcuaServer(join(dir, 'server-pki'), port);
      },
      write: { signal: sig('setpoint'), value: 123.5, readBack: async () => server?.setpoint() },
      cleanup: async () => {
        await server?.stop();
      },
    };
  });

  let source: OpcuaSource | undefined;
  afterEach(async () => {
    await source?.stop();
    await server?.stop();
    server = undefined;
  });

  it('keeps source timestamps and maps types and status codes', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    const model = opcuaModel(server.endpoint);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client'),
    }) as OpcuaSource;
    const got = new Map<string, Sample>();
    const seen = new Collector<string>();
    source.onBatch((b) => {
      for (const s of b.toSamples()) {
        if (!got.has(s.signal)) seen.push(s.signal);
        got.set(s.signal, s);
      }
    });
    const t0 = Date.now();
    await source.start();
    await seen.waitFor(4);
    expect(got.get(sig('temp'))).toMatchObject({ value: 181.5, quality: 'good' });
    // The server stamped temp a second before we connected: the source time is kept.
    expect(got.get(sig('temp'))?.ts).toBeLessThan(t0 - 500);
    expect(got.get(sig('mode'))?.value).toBe('press-7');
    expect(got.get(sig('count'))?.value).toBe(0);
  });

  it('survives a server restart mid-subscription: the gap is bad, values resume without holes', async () => {
    const pki = join(dir, 'server-pki');
    server = await startOpcuaServer(pki);
    const port = server.port;
    server.tick(100);
    const model = opcuaModel(server.endpoint);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client'),
    }) as OpcuaSource;
    const counts = new Collector<Sample>();
    const statuses = new Collector<SourceStatus>();
    source.onBatch((b) => {
      for (const s of b.toSamples()) if (s.signal === sig('count')) counts.push(s);
    });
    source.onStatus((s) => statuses.push(s));
    await source.start();
    await counts.waitFor(10);
    const goodBefore = counts.items.length;
    await server.stop();
    await counts.waitFor(goodBefore + 1);
    const badAt = counts.items.findIndex((s) => s.quality === 'bad');
    expect(badAt).toBeGreaterThanOrEqual(goodBefore - 5);
    expect(counts.items.slice(badAt).every((s) => s.quality === 'bad')).toBe(true);
    // The new server continues counting from 1000.
    server = await startOpcuaServer(pki, port, 1000);
    server.tick(100);
    const resumedFrom = counts.items.length;
    await counts.waitFor(resumedFrom + 20, 30_000);
    const after = counts.items.slice(resumedFrom).map((s) => [s.value, s.quality]);
    expect(after.every(([, q]) => q === 'good')).toBe(true);
    const values = after.map(([v]) => v as number);
    expect(values[0]).toBeGreaterThanOrEqual(1000);
    // Nothing after the restart is lost: every tick since the first value seen is there.
    for (let i = 1; i < values.length; i++) expect(values[i]).toBe((values[i - 1] as number) + 1);
    const before = counts.items.slice(0, badAt).map((s) => s.value as number);
    for (let i = 1; i < before.length; i++) expect(before[i]).toBe((before[i - 1] as number) + 1);
    expect(
      statuses.items.some(
        (s) => s.state === 'disconnected' && (s.reason ?? '').includes(`127.0.0.1:${port}`),
      ),
    ).toBe(true);
    expect(source.state).toBe('connected');
  });

  it('connects with SignAndEncrypt / Basic256Sha256 and reports an unknown node id by name', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    const model = testModel([
      {
        id: 'secure',
        protocol: 'opcua',
        endpoint: server.endpoint,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        acceptUnknownCertificate: true,
        samplingIntervalMs: 20,
        bindings: [
          { signal: 'm1/temp', nodeId: 'ns=1;s=m.temp' },
          { signal: 'm1/level', nodeId: 'ns=1;s=does.not.exist' },
        ],
      },
    ]);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client'),
    }) as OpcuaSource;
    const temp = new Collector<Sample>();
    const problems = new Collector<SourceStatus>();
    source.onBatch((b) => {
      for (const x of b.toSamples()) if (x.signal === sig('temp')) temp.push(x);
    });
    source.onStatus((x) => {
      if (x.problem !== undefined) problems.push(x);
    });
    await source.start();
    expect((await temp.waitFor(1))[0]).toMatchObject({ value: 181.5, quality: 'good' });
    const [p] = await problems.waitFor(1);
    expect(p?.problem).toBe('monitor-failed');
    expect(p?.reason).toContain('ns=1;s=does.not.exist');
    expect(p?.reason).toContain('BadNodeIdUnknown');
  });

  it('connects with Sign / Basic256Sha256 (signed, not encrypted) and reads values', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    const model = opcuaModel(server.endpoint, {
      securityMode: 'Sign',
      securityPolicy: 'Basic256Sha256',
      acceptUnknownCertificate: true,
    });
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client-sign'),
    }) as OpcuaSource;
    const got = new Map<string, Sample>();
    const seen = new Collector<string>();
    source.onBatch((b) => {
      for (const x of b.toSamples()) {
        if (!got.has(x.signal)) seen.push(x.signal);
        got.set(x.signal, x);
      }
    });
    await source.start();
    await seen.waitFor(4);
    expect(got.get(sig('temp'))).toMatchObject({ value: 181.5, quality: 'good' });
    expect(got.get(sig('mode'))).toMatchObject({ value: 'press-7', quality: 'good' });
    const eps = await discoverEndpoints(server.endpoint, { pkiDir: join(dir, 'client-sign', 'pki') });
    expect(eps).toContainEqual(
      expect.objectContaining({ securityMode: 'Sign', securityPolicy: 'Basic256Sha256' }),
    );
  });

  it('refuses an untrusted server certificate (status event, bad values), then connects once it is in the trust list', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    const clientData = join(dir, 'client-strict');
    const model = opcuaModel(server.endpoint, {
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      acceptUnknownCertificate: false,
    });
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: clientData,
    }) as OpcuaSource;
    const samples = new Collector<Sample>();
    const statuses = new Collector<SourceStatus>();
    source.onBatch((b) => {
      for (const x of b.toSamples()) samples.push(x);
    });
    source.onStatus((x) => statuses.push(x));
    await source.start();
    const refused = await firstOf(
      statuses,
      (x) => x.state === 'disconnected' && /certificate/i.test(x.reason ?? ''),
      20_000,
    );
    expect(refused.reason).toContain(server.endpoint);
    expect(refused.reason).toMatch(/BadCertificateUntrusted/);
    // Nothing was read from the untrusted server: every signal is bad.
    expect(samples.items.length).toBeGreaterThan(0);
    expect(samples.items.every((x) => x.quality === 'bad')).toBe(true);
    expect(statuses.items.some((x) => x.state === 'connected')).toBe(false);
    // The operator trusts the server: its certificate moves from rejected/ to trusted/certs/.
    const pki = join(clientData, 'pki');
    const rejected = readdirSync(join(pki, 'rejected')).filter(
      (f) => f.endsWith('.pem') || f.endsWith('.der'),
    );
    expect(rejected).toHaveLength(1);
    const name = rejected[0] as string;
    renameSync(join(pki, 'rejected', name), join(pki, 'trusted', 'certs', name));
    await firstOf(statuses, (x) => x.state === 'connected', 30_000);
    const good = await firstOf(samples, (x) => x.signal === sig('temp') && x.quality === 'good', 10_000);
    expect(good.value).toBe(181.5);
  });

  it('logs in with user and password and browses variables with data types and units', async () => {
    server = await startOpcuaServer(join(dir, 'server-pki'));
    process.env.GEMBA_TEST_OPCUA_PW = 'secret';
    const model = opcuaModel(server.endpoint, { username: 'op', passwordEnv: 'GEMBA_TEST_OPCUA_PW' });
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: join(dir, 'client'),
    }) as OpcuaSource;
    const connected = new Promise<void>((resolve) =>
      source?.onStatus((s) => s.state === 'connected' && resolve()),
    );
    await source.start();
    await connected;
    const nodes = await browseServer(server.endpoint, { pkiDir: join(dir, 'client', 'pki') });
    const temp = nodes.find((n) => n.nodeId === 'ns=1;s=m.temp');
    expect(temp).toMatchObject({ dataType: 'Double', unit: '°C', browsePath: 'Objects/1:Machine/1:temp' });
    expect(nodes.find((n) => n.nodeId === 'ns=1;s=m.counter')?.dataType).toBe('UInt32');
    expect(nodes.find((n) => n.nodeId === 'ns=1;s=m.setpoint')?.writable).toBe(true);
    const eps = await discoverEndpoints(server.endpoint, { pkiDir: join(dir, 'client', 'pki') });
    expect(eps).toContainEqual(expect.objectContaining({ securityMode: 'None', securityPolicy: 'None' }));
    expect(eps).toContainEqual(
      expect.objectContaining({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' }),
    );
    expect(eps.flatMap((e) => e.userTokens)).toEqual(expect.arrayContaining(['Anonymous', 'UserName']));
  });
});
