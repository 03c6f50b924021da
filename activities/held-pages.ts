/**
 * Staged pages a worker keeps in memory between the activity that prepared them and the one that
 * writes them (the workflow routes the write to the preparing worker's own task queue). A bounded
 * map, oldest out first: a page not found here is read from its claim check in the state store,
 * so losing one (eviction, a restarted worker) costs a read, never correctness.
 */
export class HeldPages<T> {
  private readonly pages = new Map<string, T>();

  constructor(private readonly max: number) {}

  put(id: string, page: T): void {
    this.pages.delete(id);
    this.pages.set(id, page);
    while (this.pages.size > this.max) this.pages.delete(this.pages.keys().next().value!);
  }

  get(id: string): T | undefined {
    return this.pages.get(id);
  }

  delete(id: string): void {
    this.pages.delete(id);
  }

  /** Forget every page whose id starts with `prefix` (a sync's, or one page's). */
  dropPrefix(prefix: string): void {
    for (const id of [...this.pages.keys()]) if (id.startsWith(prefix)) this.pages.delete(id);
  }

  get size(): number {
    return this.pages.size;
  }
}
