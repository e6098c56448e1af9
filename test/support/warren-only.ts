/**
 * node:test's `skip` value for a test that only Warren can pass or run (it reads
 * Warren's log or starts Warren with flags): false against Warren, a reason when
 * WARREN_TEST_BROKER_URL points the suite at another broker. Decided when the test
 * is defined, before the broker starts, the same way startBroker() decides.
 */
export function warrenOnly(why: string): string | false {
  return process.env.WARREN_TEST_BROKER_URL ? `${why}; the broker under test is external` : false;
}
