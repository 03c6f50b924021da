/**
 * An approval service: the pattern for chat bots, portals and ticketing systems that decide on
 * behalf of people. It authenticates its caller at the edge (pluggable; a static bearer token
 * per user for the demo), lists what waits for approval, and turns the caller's decision into a
 * short-lived token it signs as a trusted issuer, bound to the workflow, gate, plan and decision,
 * sent as the `approve`/`reject` update. The workflow's gate verifies the token; this service
 * decides nothing itself.
 *
 *   GET  /approvals                              pending gates (visibility + pendingApproval query)
 *   GET  /approvals/<workflowId>                 one gate
 *   POST /approvals/<workflowId>/approve|reject  body {"planHash":"…","comment":"…"}
 */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { approveUpdate, pendingApprovalQuery, rejectUpdate, type PendingApproval } from '../contracts/approval';
import { signDecision, type DecisionSigner } from './sign';

/** Who is calling: the user id to sign decisions for, or null (401). Plug in SSO, mTLS, a chat platform's signature… */
export type Authenticator = (req: IncomingMessage) => Promise<string | null> | string | null;

/** Users file: `{"users": {"pricing-lead": {"sha256": "<hex of the bearer token>"}}}`; the tokens themselves are kept by the users. */
export const UsersFileSchema = z.object({ users: z.record(z.string().min(1), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict()) }).strict();
export type UsersFile = z.infer<typeof UsersFileSchema>;

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The demo's authentication: `Authorization: Bearer <token>`, compared by SHA-256 in constant time. */
export function bearerAuthenticator(users: UsersFile): Authenticator {
  const known = Object.entries(users.users).map(([name, u]) => [name, Buffer.from(u.sha256, 'hex')] as const);
  return (req) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return null;
    const digest = Buffer.from(sha256Hex(m[1]!), 'hex');
    let who: string | null = null;
    for (const [name, hash] of known) if (timingSafeEqual(hash, digest)) who = name;
    return who;
  };
}

export interface ApprovalServiceOptions {
  client: Client;
  signer: DecisionSigner;
  authenticate: Authenticator;
  /** @default "127.0.0.1" (loopback: put a real edge in front of it to expose it) */
  host?: string;
  /** @default 8787; 0 picks a free port */
  port?: number;
}

export interface PendingItem extends PendingApproval {
  workflowId: string;
  runId: string;
  workflowType: string;
  /** Whether the caller is on the stage's approver list. */
  mayDecide: boolean;
}

export interface ApprovalService {
  url: string;
  close(): Promise<void>;
}

/** Gates wait with this search attribute (syncs, pairs and order-to-cash alike). */
export const PENDING_QUERY = 'SyncStatus = "awaiting-approval" AND ExecutionStatus = "Running"';

const DecisionBodySchema = z.object({ planHash: z.string().min(1), comment: z.string().max(2000).optional() }).strict();

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new HttpError(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'body must be JSON');
  }
}

export async function startApprovalService(opts: ApprovalServiceOptions): Promise<ApprovalService> {
  const { client } = opts;

  const pendingOf = async (workflowId: string, runId?: string): Promise<{ pending: PendingApproval | null; runId: string; type: string }> => {
    const h = client.workflow.getHandle(workflowId, runId);
    const [d, state] = await Promise.all([h.describe(), h.query(pendingApprovalQuery)]);
    return { pending: state.pending, runId: d.runId, type: d.type };
  };
  const item = (user: string, workflowId: string, runId: string, type: string, p: PendingApproval): PendingItem => ({
    ...p, workflowId, runId, workflowType: type, mayDecide: p.approvers.includes(user),
  });

  const list = async (user: string): Promise<PendingItem[]> => {
    const out: PendingItem[] = [];
    for await (const w of client.workflow.list({ query: PENDING_QUERY })) {
      try {
        const state = await client.workflow.getHandle(w.workflowId, w.runId).query(pendingApprovalQuery);
        if (state.pending) out.push(item(user, w.workflowId, w.runId, w.type, state.pending));
      } catch {
        // decided and finished meanwhile, or no worker answers: not listed
      }
    }
    return out;
  };

  const decide = async (user: string, workflowId: string, decision: 'approve' | 'reject', body: unknown) => {
    const parsed = DecisionBodySchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, 'expected {"planHash":"<hash shown in the list>","comment":"…"}');
    const { pending } = await pendingOf(workflowId);
    if (!pending) throw new HttpError(409, `${workflowId} has no pending approval`);
    if (pending.planHash !== parsed.data.planHash) {
      throw new HttpError(409, `the plan changed: ${workflowId} now waits on plan ${pending.planHash}; review it again`);
    }
    const token = await signDecision(opts.signer, { subject: user, workflowId, gate: pending.gate, planHash: pending.planHash, decision });
    try {
      return await client.workflow.getHandle(workflowId).executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, {
        args: [{ token, ...(parsed.data.comment ? { comment: parsed.data.comment } : {}) }],
      });
    } catch (err) {
      // The gate's reason (validator or verification); never the token.
      if (err instanceof WorkflowUpdateFailedError) throw new HttpError(403, err.cause?.message ?? 'decision refused');
      throw err;
    }
  };

  const route = async (req: IncomingMessage): Promise<unknown> => {
    const user = await opts.authenticate(req);
    if (!user) throw new HttpError(401, 'authenticate with Authorization: Bearer <your token>');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'approvals' || parts.length > 3) throw new HttpError(404, 'see GET /approvals');
    if (req.method === 'GET' && parts.length === 1) return { user, pending: await list(user) };
    if (req.method === 'GET' && parts.length === 2) {
      const { pending, runId, type } = await pendingOf(parts[1]!);
      if (!pending) throw new HttpError(404, `${parts[1]} has no pending approval`);
      return item(user, parts[1]!, runId, type, pending);
    }
    if (req.method === 'POST' && parts.length === 3 && (parts[2] === 'approve' || parts[2] === 'reject')) {
      return { user, outcome: await decide(user, parts[1]!, parts[2], await readJson(req)) };
    }
    throw new HttpError(405, 'GET /approvals[/<workflowId>] or POST /approvals/<workflowId>/approve|reject');
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body, null, 2) + '\n');
  };
  const server = createServer((req, res) => {
    route(req).then(
      (body) => send(res, 200, body),
      (err: unknown) => {
        if (err instanceof HttpError) send(res, err.status, { error: err.message });
        else if ((err as { name?: string })?.name === 'WorkflowNotFoundError') send(res, 404, { error: 'no such workflow' });
        else send(res, 502, { error: 'Temporal did not answer; see the service log' });
        if (!(err instanceof HttpError)) console.error('approval service:', err instanceof Error ? err.message : err);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8787, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
