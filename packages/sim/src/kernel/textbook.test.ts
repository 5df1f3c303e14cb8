import { describe, expect, it } from 'vitest';
import { compileDistribution, type DistributionSpec } from '../random/distributions.ts';
import { Rng } from '../random/rng.ts';
import { type Estimate, estimate } from '../stats/confidence.ts';
import { Resource } from './resource.ts';
import { type ProcessBody, Simulation } from './simulation.ts';

/**
 * Mean waiting time in queue of a FIFO multi-server queue with Poisson arrivals, written with
 * processes on the kernel; one value per replication (customers after a warm-up).
 */
function queueWaits(
  opts: { lambda: number; service: DistributionSpec; servers: number; customers: number; warmup: number },
  seed: number,
): number {
  const sim = new Simulation();
  const res = new Resource(sim, opts.servers);
  const arrivals = new Rng(seed, 'arrivals');
  const serviceRng = new Rng(seed, 'service');
  const service = compileDistribution(opts.service);
  let served = 0;
  let waitSum = 0;
  function* customer(i: number): ProcessBody {
    const t0 = sim.now;
    yield res.request();
    if (i >= opts.warmup) {
      waitSum += sim.now - t0;
      served++;
    }
    yield service(serviceRng);
    res.release();
  }
  function* source(): ProcessBody {
    for (let i = 0; i < opts.customers; i++) {
      sim.process(customer(i));
      yield -Math.log(arrivals.next()) / opts.lambda;
    }
  }
  sim.process(source());
  sim.run();
  return waitSum / served;
}

function replicate(n: number, f: (seed: number) => number): Estimate {
  return estimate(Array.from({ length: n }, (_, i) => f(1000 + i)));
}

function expectWithin(est: Estimate, theory: number): void {
  expect(est.low, `CI [${est.low}, ${est.high}] vs ${theory}`).toBeLessThanOrEqual(theory);
  expect(est.high, `CI [${est.low}, ${est.high}] vs ${theory}`).toBeGreaterThanOrEqual(theory);
}

/** Erlang C: probability an arrival waits in an M/M/c queue. */
function erlangC(c: number, a: number): number {
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const last = (term * a) / c; // a^c / c!
  const rho = a / c;
  const pc = last / (1 - rho);
  return pc / (sum + pc);
}

describe('kernel: textbook queues (fixed seeds, 95 % CIs over replications)', () => {
  it('M/M/1: Wq = ρ/(μ − λ)', () => {
    const lambda = 0.5;
    const est = replicate(20, (s) =>
      queueWaits(
        { lambda, service: { family: 'exponential', mean: 1 }, servers: 1, customers: 20_000, warmup: 1000 },
        s,
      ),
    );
    expectWithin(est, lambda / (1 - lambda));
  });

  it('M/M/c: Wq = C(c, a) / (cμ − λ) (Erlang C)', () => {
    const c = 3;
    const lambda = 2.4;
    const est = replicate(20, (s) =>
      queueWaits(
        { lambda, service: { family: 'exponential', mean: 1 }, servers: c, customers: 20_000, warmup: 2000 },
        s,
      ),
    );
    expectWithin(est, erlangC(c, lambda) / (c - lambda));
  });

  it('M/D/1: Wq = ρ / (2μ(1 − ρ)) (Pollaczek–Khinchine)', () => {
    const lambda = 0.7;
    const est = replicate(20, (s) =>
      queueWaits(
        {
          lambda,
          service: { family: 'deterministic', value: 1 },
          servers: 1,
          customers: 20_000,
          warmup: 1000,
        },
        s,
      ),
    );
    expectWithin(est, lambda / (2 * (1 - lambda)));
  });

  it('tandem line of exponential stations: sojourn = Σ 1/(μᵢ − λ) (Jackson)', () => {
    const lambda = 0.5;
    const mus = [1, 0.8, 1.25];
    const run = (seed: number): number => {
      const sim = new Simulation();
      const stations = mus.map(() => new Resource(sim, 1));
      const rngs = mus.map((_, i) => new Rng(seed, `station${i}`));
      const arr = new Rng(seed, 'arrivals');
      let sum = 0;
      let n = 0;
      function* job(i: number): ProcessBody {
        const t0 = sim.now;
        for (let k = 0; k < mus.length; k++) {
          const st = stations[k] as Resource;
          yield st.request();
          yield -Math.log((rngs[k] as Rng).next()) / (mus[k] as number);
          st.release();
        }
        if (i >= 2000) {
          sum += sim.now - t0;
          n++;
        }
      }
      sim.process(
        (function* (): ProcessBody {
          for (let i = 0; i < 20_000; i++) {
            sim.process(job(i));
            yield -Math.log(arr.next()) / lambda;
          }
        })(),
      );
      sim.run();
      return sum / n;
    };
    expectWithin(
      replicate(20, run),
      mus.reduce((s, mu) => s + 1 / (mu - lambda), 0),
    );
  });

  it('interrupts preempt a hold; the process sees the cause and the remaining time', () => {
    const sim = new Simulation();
    const log: string[] = [];
    const worker = sim.process(
      (function* (): ProcessBody {
        let remaining = 10;
        while (remaining > 0) {
          const start = sim.now;
          try {
            yield remaining;
            remaining = 0;
          } catch (err: unknown) {
            remaining -= sim.now - start;
            log.push(`t=${sim.now} ${(err as { cause: string }).cause} left=${remaining}`);
            yield 5; // repair
          }
        }
        log.push(`done t=${sim.now}`);
      })(),
    );
    sim.process(
      (function* (): ProcessBody {
        yield 4;
        worker.interrupt('breakdown');
      })(),
    );
    sim.run();
    expect(log).toEqual(['t=4 breakdown left=6', 'done t=15']);
  });
});
