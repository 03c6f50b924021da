/** The connector seam lives in contracts/connector.ts (with its capability interfaces); re-exported for connectors. */
export * from '../contracts/connector';
