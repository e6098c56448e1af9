/**
 * Waiting in the metadata path (a retry after a short pause, the bound on a whole submit)
 * goes through this, so tests can run it on their own clock and the pure parts stay free
 * of timers. The runtime's timers are unref'd: a pending submit never keeps a stopping
 * process alive.
 */
export interface Timers {
  /** Calls fn once after ms; returns a cancel. */
  after(ms: number, fn: () => void): () => void;
}

export const REAL_TIMERS: Timers = {
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
