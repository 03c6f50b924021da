import type { z } from 'zod';
import { SqlSystemSchema } from '../connectors/sql/config';
import { createSqlConnector } from '../connectors/sql/connector';
import type { Connector } from '../connectors/types';

/** A kind of external system: how its config is validated and its connector built. */
export interface ConnectorKind<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Build a connector; secrets are read here from `env`, never from config values. */
  create(config: z.infer<S>, systemName: string, env: NodeJS.ProcessEnv): Connector;
}

function kind<S extends z.ZodType>(k: ConnectorKind<S>): ConnectorKind {
  return k as unknown as ConnectorKind;
}

/** Every connector kind the worker knows, by the `kind` field of config/systems.json. */
export const CONNECTOR_KINDS: Record<string, ConnectorKind> = {
  sql: kind({ schema: SqlSystemSchema, create: (c, name) => createSqlConnector(c, name) }),
};
