/**
 * Wait until every SystemModstamp second up to now is one the Salesforce connector reads. It
 * reads only seconds older than `settleSeconds` (connectors/salesforce/connector.ts, whole
 * seconds as Salesforce keeps them), so a write at 10.0 s or 10.9 s is read from 12.0 s on with
 * the default of 1. Waiting a fixed 1.1 s after the write is not enough when it fell early in
 * its second.
 */
export function untilSettled(settleSeconds = 1): Promise<void> {
  const now = Date.now();
  const readableFrom = (Math.floor(now / 1000) + 1 + settleSeconds) * 1000;
  return new Promise((resolve) => setTimeout(resolve, readableFrom - now + 20));
}
