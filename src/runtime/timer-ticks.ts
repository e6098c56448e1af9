import type { TickSource } from "../cluster/tick-source.js";

/**
 * The Raft driver's clock in a running node: one tick per period from a timer. A process
 * that was paused (a long GC) runs one late tick, not the missed ones: Raft only gets
 * slower, never wrong (tick-source.ts). `afterTick` lets the runtime look at the group
 * right after each tick (pause_minority, catching up).
 */
export class TimerTicks implements TickSource {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly tickMs: number,
    private readonly afterTick: () => void = () => {},
    /** Wraps each tick, so the stall watch can name it when it is slow. */
    private readonly timed: (fn: () => void) => void = (fn) => fn(),
  ) {}

  start(onTick: () => void): void {
    this.stop();
    this.timer = setInterval(
      () =>
        this.timed(() => {
          onTick();
          this.afterTick();
        }),
      this.tickMs,
    );
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
