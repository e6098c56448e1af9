/** Failed logins from one address inside the window that start its cool-off. */
const MAX_FAILURES = 10;
const WINDOW_MS = 60_000;
const COOL_OFF_MS = 30_000;
/** Addresses remembered at most: a scan from many addresses cannot grow this without bound. */
const MAX_TRACKED = 10_000;

interface Record {
  failures: number;
  windowStartMs: number;
  blockedUntilMs: number;
}

/**
 * Rate-limits failed logins per client address: after 10 failures within a
 * minute, every login from that address is refused for 30 s whatever its
 * credentials (they are not even checked), so a password-guessing loop learns
 * nothing. The refusal is the one a wrong password gets (403 ACCESS_REFUSED), so
 * clients report it as a refused login, over TLS too.
 */
export class LoginThrottle {
  private readonly byAddress = new Map<string, Record>();
  /** Logins refused because their address was cooling off. */
  refused = 0;

  failed(address: string, nowMs: number): void {
    let r = this.byAddress.get(address);
    if (!r || nowMs - r.windowStartMs > WINDOW_MS) {
      r = { failures: 0, windowStartMs: nowMs, blockedUntilMs: 0 };
      if (this.byAddress.size >= MAX_TRACKED) this.evict(nowMs);
      this.byAddress.set(address, r);
    }
    r.failures++;
    if (r.failures >= MAX_FAILURES) r.blockedUntilMs = nowMs + COOL_OFF_MS;
  }

  succeeded(address: string): void {
    this.byAddress.delete(address);
  }

  /** Milliseconds of cool-off left for this address, or 0. */
  coolingOff(address: string, nowMs: number): number {
    const r = this.byAddress.get(address);
    if (!r || r.blockedUntilMs <= nowMs) return 0;
    this.refused++;
    return r.blockedUntilMs - nowMs;
  }

  private evict(nowMs: number): void {
    for (const [a, r] of this.byAddress) {
      if (r.blockedUntilMs <= nowMs && nowMs - r.windowStartMs > WINDOW_MS)
        this.byAddress.delete(a);
    }
    // Still full (an active scan): forget the oldest half.
    if (this.byAddress.size >= MAX_TRACKED) {
      let n = 0;
      for (const a of this.byAddress.keys()) {
        if (n++ > MAX_TRACKED / 2) break;
        this.byAddress.delete(a);
      }
    }
  }
}
