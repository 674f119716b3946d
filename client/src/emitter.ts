/**
 * A small typed event emitter. Listeners run synchronously, in the order added. A listener that
 * throws does not stop the others: its error goes to the 'error' listeners (and is dropped when
 * there are none, or when an 'error' listener throws), so an app bug never breaks the client.
 */
export type Listener<A extends unknown[]> = (...args: A) => void;
type AnyListener = (...args: unknown[]) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown[] } & { error: [Error] }> {
  // Stored untyped: each event's list only ever holds listeners of that event.
  private readonly listeners = new Map<keyof Events, AnyListener[]>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    const list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, [fn as unknown as AnyListener]);
    else list.push(fn as unknown as AnyListener);
    return () => this.off(event, fn);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(event, ((...args: Events[K]) => {
      off();
      fn(...args);
    }) as Listener<Events[K]>);
    return off;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    const i = list.indexOf(fn as unknown as AnyListener);
    if (i >= 0) list.splice(i, 1);
  }

  /** Whether anyone listens to `event`. */
  protected listening(event: keyof Events): boolean {
    return (this.listeners.get(event)?.length ?? 0) > 0;
  }

  /** Calls the listeners of `event`; returns false when a listener threw. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.listeners.get(event);
    if (list === undefined || list.length === 0) return true;
    let ok = true;
    // A copy: a listener may remove itself (once) or others while we iterate.
    for (const fn of list.length === 1 ? list : list.slice()) {
      try {
        fn(...(args as unknown[]));
      } catch (err) {
        ok = false;
        if (event !== 'error') this.emit('error', ...([err instanceof Error ? err : new Error(String(err))] as Events['error']));
      }
    }
    return ok;
  }
}
