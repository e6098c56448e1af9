/** Samples a memory reading every interval and keeps the peak. */
export class PeakSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(read: () => number, intervalMs = 1000) {
    this.peak = read();
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, read());
    }, intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peak;
  }
}
