import type { DistributionSpec } from '../random/distributions.ts';

/**
 * Failures of a station. `operating-time`: the time between failures counts only while the
 * station works (the usual assumption for machine wear); `cycles`: a failure every N cycles,
 * N drawn from `between`. A failure preempts the cycle in progress, which resumes after repair.
 */
export interface FailureConfig {
  basis: 'operating-time' | 'cycles';
  /** Operating seconds (or cycles) between failures. */
  between: DistributionSpec;
  /** Repair duration, seconds. */
  repair: DistributionSpec;
}

/**
 * A wear failure mode driven by a condition signal (e.g. bearing vibration): the level grows
 * exponentially with operating time, ln L(t) = ln `level` + `growthPerS`·t, and the part fails
 * when it reaches `failAt` (drawn for each part). The repair renews the part at `newLevel`.
 * Independent of (and competing with) the station's random `failures`.
 */
export interface WearConfig {
  /** Condition level at t = 0 of the run (the signal's unit). */
  level: number;
  /** Growth of ln(level) per operating second. */
  growthPerS: number;
  /** Level of a renewed part. */
  newLevel: number;
  /** Level at which the part fails. */
  failAt: DistributionSpec;
  /** Repair (renewal) duration, seconds. */
  repair: DistributionSpec;
}

/** Short stops before a cycle: with `probability` per cycle, a stop of `duration` seconds. */
export interface MicroStopConfig {
  probability: number;
  duration: DistributionSpec;
}

/** One station of the simulated line. */
export interface StationConfig {
  id: string;
  /** Cycle time at speed 1 (100 %), seconds. */
  cycleTime: DistributionSpec;
  /** Speed factor, 1 = 100 % (cycle times are divided by it). */
  speed: number;
  failures?: FailureConfig;
  /** A wear failure mode beside the random failures. */
  wear?: WearConfig;
  microStops?: MicroStopConfig;
  /** Probability a finished part is scrap (ignored for the oven when an oven model is set). */
  scrapProbability: number;
}

/** A finite buffer between station i and station i+1 (capacity 0: direct hand-over). */
export interface BufferConfig {
  id: string;
  capacity: number;
}

/**
 * One oven zone as a first-order thermal system under an ideal temperature controller with
 * heater limits: the zone approaches its goal min(setpoint, ambient + maxRiseC) with time
 * constant `timeConstantS`.
 */
export interface OvenZoneConfig {
  id: string;
  setpointC: number;
  timeConstantS: number;
  ambientC: number;
  /** The highest temperature rise over ambient the heaters can hold (heater limit), °C. */
  maxRiseC: number;
  /** Temperature at t = 0 (default: the steady state). */
  initialC?: number;
}

/**
 * The curing oven's physics: the cure temperature of a part is the quality zone's temperature
 * when the part leaves plus N(0, cureNoiseSdC²); the part is scrap with probability
 * 1 / (1 + exp(−(a + b·d²))) where d is the deviation from `targetC`.
 */
export interface OvenConfig {
  /** The oven station's id. */
  station: string;
  zones: OvenZoneConfig[];
  /** The zone whose temperature decides quality (the soak zone). */
  qualityZone: string;
  targetC: number;
  cureNoiseSdC: number;
  /** p = σ(a + b·x) with x = d² (`squared`, the default) or |d| (`absolute`). */
  scrapLogit: {
    a: number;
    b: number;
    form?: 'squared' | 'absolute';
    /** The largest |d| the curve was learnt from, °C (a calibrated curve): beyond it, it extrapolates. */
    learntWithinC?: number;
  };
  /**
   * The station that finds cure scrap (default: the oven itself). Downstream of the oven, a
   * part bound to be scrapped travels through the buffers (taking capacity on the way) and is
   * scrapped there.
   */
  inspectAt?: string;
  /** Setpoint changes during the run (simulated seconds from the start). */
  setpointChanges?: { atS: number; zone: string; setpointC: number }[];
  /** Disturbance episodes of the quality zone (e.g. a heater losing power). */
  disturbances?: OvenDisturbances;
}

/**
 * Disturbance episodes of the oven's quality zone: during episode k its temperature is off the
 * zone model by `profiles[k][j]` °C at j·`stepS` seconds from the episode's start. Episodes
 * start at random (Poisson, `ratePerS`, a profile drawn from the list with equal
 * probability) and at the fixed times of `at` (a replay of the episodes seen).
 */
export interface OvenDisturbances {
  stepS: number;
  profiles: number[][];
  ratePerS: number;
  at?: { atS: number; profile: number }[];
}

/** A planned stop repeating every `periodS` seconds, starting `offsetS` after the run starts. */
export interface PlannedStop {
  id: string;
  periodS: number;
  offsetS: number;
  durationS: number;
}

/**
 * A serial production line as plain data (JSON-serialisable, so it can be stored, sent to a
 * worker thread and changed by what-if scenarios). Invariant: `buffers.length ===
 * stations.length − 1`, buffer i sits between station i and station i+1. The first station is
 * never starved and the last never blocked.
 */
export interface LineConfig {
  /** Namespace path of the line. */
  line: string;
  stations: StationConfig[];
  buffers: BufferConfig[];
  plannedStops: PlannedStop[];
  oven?: OvenConfig;
}
