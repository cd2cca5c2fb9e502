/**
 * How long serving requests holds the event loop in one go: each handler and each render slice is
 * timed. Wall time also counts the moments the OS gave the core to another process, which on a
 * busy machine dwarfs the work itself. With `cpu`, the process's CPU time is read as well
 * (getrusage, a system call per mark, so for measuring only); it also counts the process's other
 * threads (workers, V8's compiler and GC helpers). The main thread's own time lies under both, so
 * the smaller of the two is kept as the hold's bound. (Node 20 has no per-thread CPU clock, and
 * /proc's schedstat of a running thread lags by up to a scheduler tick.)
 */

export interface Blocking {
  /** Holds timed. */
  count: number;
  maxWallMs: number;
  /** Holds over 1 ms of wall time. */
  overMsWall: number;
  /** Longest hold bound: the smaller of wall and process CPU time (wall time alone without `cpu`). */
  maxMs: number;
  /** Holds whose bound is over 1 ms. */
  overMs: number;
  /** The first holds whose bound is over 1 ms: start (performance.now()), wall and bound, to tell which a GC paused. */
  long: { at: number; wallMs: number; ms: number }[];
}

const LONG_KEPT = 200;

export class BlockMeter {
  private stats: Blocking = BlockMeter.empty();

  constructor(private readonly cpu: boolean) {}

  /** A mark to pass to `end`. */
  start(): [number, number] {
    return [performance.now(), this.cpuMs()];
  }

  end([wall0, cpu0]: [number, number]): void {
    const wall = performance.now() - wall0;
    const ms = this.cpu ? Math.min(wall, this.cpuMs() - cpu0) : wall;
    const s = this.stats;
    s.count++;
    s.maxWallMs = Math.max(s.maxWallMs, wall);
    if (wall > 1) s.overMsWall++;
    s.maxMs = Math.max(s.maxMs, ms);
    if (ms > 1) {
      s.overMs++;
      if (s.long.length < LONG_KEPT) s.long.push({ at: wall0, wallMs: wall, ms });
    }
  }

  get blocking(): Blocking {
    return { ...this.stats, long: [...this.stats.long] };
  }

  reset(): void {
    this.stats = BlockMeter.empty();
  }

  private static empty(): Blocking {
    return { count: 0, maxWallMs: 0, overMsWall: 0, maxMs: 0, overMs: 0, long: [] };
  }

  private cpuMs(): number {
    if (!this.cpu) return 0;
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}
