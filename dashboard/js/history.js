// The last five minutes of snapshots, as the column arrays the charts draw (one a second).

const KEEP = 300;

export class History {
  constructor(workers) {
    this.t = [];
    this.connections = [];
    this.connects = [];
    this.disconnects = [];
    this.pushes = [];
    this.deliveries = [];
    this.bytesOut = [];
    // push-to-write latency (ms) of the pushes written in each second; null when none was
    this.latencyP50 = [];
    this.latencyP99 = [];
    // acceptor first, then worker 0..N-1
    this.lag = Array.from({ length: workers + 1 }, () => []);
    this.version = 0;
  }

  add(snap) {
    const r = snap.rates;
    this.t.push(snap.t / 1000);
    this.connections.push(snap.connections);
    this.connects.push(r === null ? null : r.connects);
    this.disconnects.push(r === null ? null : r.disconnects);
    this.pushes.push(r === null ? null : r.pushes);
    this.deliveries.push(r === null ? null : r.deliveries);
    this.bytesOut.push(r === null ? null : r.bytesOut);
    this.latencyP50.push(snap.latency?.p50Ms ?? null);
    this.latencyP99.push(snap.latency?.p99Ms ?? null);
    this.lag[0].push(snap.acceptor.loopLagMs);
    for (let i = 1; i < this.lag.length; i++) {
      const w = snap.workers[i - 1];
      this.lag[i].push(w === undefined || w.state !== 'ready' ? null : w.loopLagMs);
    }
    if (this.t.length > KEEP) for (const column of this.columns()) column.shift();
    this.version++;
  }

  columns() {
    return [this.t, this.connections, this.connects, this.disconnects, this.pushes, this.deliveries, this.bytesOut, this.latencyP50, this.latencyP99, ...this.lag];
  }
}
