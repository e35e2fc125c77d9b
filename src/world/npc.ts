// Deterministic wandering NPC. Server-side only in practice, but pure so it can run anywhere.

import { distanceM, initialBearingDeg, poseLatDeg, poseLonDeg } from './geo.ts';
import { Rng } from './rng.ts';
import type { MoveIntent, Pose } from './types.ts';

export interface NpcBrainJSON {
  rng: number;
  home: { lat: number; lon: number };
  homeRadiusM: number;
  speed: number;
  headingDeg: number;
  turnInMs: number;
  pauseMs: number;
}

const DEG_TO_RAD = Math.PI / 180;
/** Chance that a decision point becomes a pause instead of a turn. */
const PAUSE_CHANCE = 0.25;

/**
 * Wander: keep a heading, every 2-6 s either turn by up to +-90 degrees or pause for 1-4 s;
 * whenever farther than homeRadiusM from home, head straight for home (so the overshoot is at
 * most one tick of travel). Same seed + same sequence of (pose, dtMs) => same intents.
 * All state is in toJSON() so the brain can cross zones with its NPC.
 */
export class NpcBrain {
  readonly home: { lat: number; lon: number };
  readonly homeRadiusM: number;
  readonly speed: number;
  private rng: Rng;
  private headingDeg: number;
  private turnInMs: number;
  private pauseMs: number;

  constructor(seed: number, home: { lat: number; lon: number }, homeRadiusM = 150, speed = 1.4) {
    this.home = { lat: home.lat, lon: home.lon };
    this.homeRadiusM = homeRadiusM;
    this.speed = speed;
    this.rng = new Rng(seed);
    this.headingDeg = this.rng.range(0, 360);
    this.turnInMs = this.rng.int(2000, 6001);
    this.pauseMs = 0;
  }

  next(pose: Pose, dtMs: number): MoveIntent {
    const lat = poseLatDeg(pose);
    const lon = poseLonDeg(pose);
    if (distanceM(lat, lon, this.home.lat, this.home.lon) > this.homeRadiusM) {
      // Outside the leash: go home now; wandering resumes once back inside.
      this.headingDeg = initialBearingDeg(lat, lon, this.home.lat, this.home.lon);
      this.pauseMs = 0;
    } else {
      if (this.pauseMs > 0) this.pauseMs = Math.max(0, this.pauseMs - dtMs);
      this.turnInMs -= dtMs;
      if (this.turnInMs <= 0) {
        this.turnInMs = this.rng.int(2000, 6001);
        if (this.rng.next() < PAUSE_CHANCE) {
          this.pauseMs = this.rng.int(1000, 4001);
        } else {
          const h = this.headingDeg + this.rng.range(-90, 90);
          this.headingDeg = h < 0 ? h + 360 : h >= 360 ? h - 360 : h;
        }
      }
    }
    if (this.pauseMs > 0) return { dtMs, east: 0, north: 0, up: 0 };
    const b = this.headingDeg * DEG_TO_RAD;
    return { dtMs, east: this.speed * Math.sin(b), north: this.speed * Math.cos(b), up: 0 };
  }

  toJSON(): NpcBrainJSON {
    return {
      rng: this.rng.state,
      home: { lat: this.home.lat, lon: this.home.lon },
      homeRadiusM: this.homeRadiusM,
      speed: this.speed,
      headingDeg: this.headingDeg,
      turnInMs: this.turnInMs,
      pauseMs: this.pauseMs,
    };
  }

  static fromJSON(j: NpcBrainJSON): NpcBrain {
    const b = new NpcBrain(0, j.home, j.homeRadiusM, j.speed);
    b.rng = Rng.fromJSON(j.rng);
    b.headingDeg = j.headingDeg;
    b.turnInMs = j.turnInMs;
    b.pauseMs = j.pauseMs;
    return b;
  }
}
