/** The state store seam lives in contracts/state-store.ts; re-exported for the stores. */
export * from '../contracts/state-store';
