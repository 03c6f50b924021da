/**
 * A turn of the event loop. State store and SQL connector calls are synchronous underneath (SQLite),
 * so an activity awaiting them runs without a break; between its larger steps it lets the worker's
 * other work go first (workflow tasks, the next page's activity, heartbeats), which otherwise
 * waits behind the whole page: a round trip through the server costs the sync that much.
 */
export const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
