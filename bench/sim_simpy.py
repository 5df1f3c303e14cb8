"""The demo line of bench/sim.ts in SimPy (Debian's python3-simpy, SimPy 2.3 API), for a
wall-time comparison. Same structure and parameters: six stations in flow order with finite
buffers (blocking after service: a station waits in `put` while the buffer downstream is full),
lognormal cycle times, operating-time failures preempting the cycle (resumed after repair),
micro-stops, scrap, the oven's logistic scrap in the cure-temperature deviation, and daily shift
breaks that pause processing (holding stations are interrupted and resume after the break).

Usage: /usr/bin/python3 bench/sim_simpy.py DAYS SEED  -> prints one JSON line.
"""
import json
import math
import random
import sys
import time

from SimPy.Simulation import (Process, SimEvent, Store, activate, get, hold, initialize, now,
                              put, simulate, waitevent)

IDEAL = [("press", 20), ("weld", 24), ("oven", 22), ("assembly", 26), ("test", 20), ("pack", 18)]
CAPS = [10, 10, 8, 10, 10]
CV = 0.1
MTBF = 4 * 3600.0
REPAIR_MU, REPAIR_SIGMA = math.log(600), 0.5
MICRO_P, MICRO_MEAN = 0.02, 30.0
SCRAP_P = 0.005
BREAKS = [(4 * 3600, 1800), (12 * 3600, 1800), (20 * 3600, 1800)]  # offset in the day, duration
LOGIT_A, LOGIT_B, CURE_SD, SETPOINT, TARGET = -6.0, 0.05, 1.0, 180.0, 180.0


class Line:
    paused = False
    resume = None  # SimEvent signalled at the end of each break
    good = 0


class Station(Process):
    def __init__(self, idx, name, mean, inbuf, outbuf, rng):
        Process.__init__(self, name=name)
        s2 = math.log(1 + CV * CV)
        self.mu, self.sigma = math.log(mean * 1.05) - s2 / 2, math.sqrt(s2)
        self.inbuf, self.outbuf, self.rng, self.idx = inbuf, outbuf, rng, idx
        self.processing = False

    def work(self, duration):
        """Holds for `duration` of processing, pausing across breaks."""
        left = duration
        while left > 0:
            self.processing = True
            yield hold, self, left
            self.processing = False
            if self.interrupted():
                left = self.interruptLeft
                self.interruptReset()
                while Line.paused:
                    yield waitevent, self, Line.resume
            else:
                left = 0

    def run(self):
        r = self.rng
        ttf = r.expovariate(1 / MTBF)
        while True:
            if self.inbuf is not None:
                yield get, self, self.inbuf, 1
            while Line.paused:
                yield waitevent, self, Line.resume
            if r.random() < MICRO_P:
                for e in self.work(r.expovariate(1 / MICRO_MEAN)):
                    yield e
            remaining = r.lognormvariate(self.mu, self.sigma)
            while ttf < remaining:
                for e in self.work(ttf):
                    yield e
                remaining -= ttf
                yield hold, self, r.lognormvariate(REPAIR_MU, REPAIR_SIGMA)
                ttf = r.expovariate(1 / MTBF)
            for e in self.work(remaining):
                yield e
            ttf -= remaining
            if self.idx == 2:
                d = SETPOINT + r.gauss(0, CURE_SD) - TARGET
                scrap = r.random() < 1 / (1 + math.exp(-(LOGIT_A + LOGIT_B * d * d)))
            else:
                scrap = r.random() < SCRAP_P
            if scrap:
                continue
            if self.outbuf is None:
                Line.good += 1
            else:
                yield put, self, self.outbuf, [1]


class Breaks(Process):
    def run(self, stations):
        t = 0.0
        while True:
            for off, dur in BREAKS:
                yield hold, self, max(0.0, t + off - now())
                Line.paused = True
                for s in stations:
                    if s.processing:
                        self.interrupt(s)
                yield hold, self, dur
                Line.paused = False
                Line.resume.signal()
            t += 86400.0


def main():
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 365
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.perf_counter()
    initialize()
    Line.resume = SimEvent("resume")
    Line.good = 0
    bufs = [Store(name=f"b{i}", capacity=c, monitored=False) for i, c in enumerate(CAPS)]
    stations = []
    for i, (name, ct) in enumerate(IDEAL):
        s = Station(i, name, ct, bufs[i - 1] if i > 0 else None, bufs[i] if i < len(bufs) else None,
                    random.Random(seed * 100 + i))
        stations.append(s)
        activate(s, s.run())
    b = Breaks()
    activate(b, b.run(stations))
    simulate(until=days * 86400)
    wall = time.perf_counter() - t0
    print(json.dumps({"days": days, "wall_s": wall, "good": Line.good,
                      "throughput_per_hour": Line.good / (days * 24)}))


main()
