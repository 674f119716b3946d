// Workers: one row per worker slot, from the status words every worker writes (as GET /health).
import { html } from '../html.js';
import { fmtBytes, fmtDuration, fmtInt, fmtMs } from '../format.js';

/** ok (green), warn (starting, stopping) or bad (red: dead, failed, stalled). */
export function health(w) {
  if (w.state === 'dead' || w.state === 'failed' || w.stalled) return 'bad';
  return w.state === 'ready' ? 'ok' : 'warn';
}

function lastExit(w) {
  if (w.lastExit === null) return '–';
  const why = w.lastExit.error ?? `exit code ${w.lastExit.code}`;
  return `${why}, ${fmtDuration(w.lastExit.agoMs / 1000)} ago`;
}

export function Workers({ snap }) {
  return html`<div class="page" id="page-workers">
    <section class="card">
      <h3>Workers</h3>
      <table class="grid" id="workers-table">
        <thead><tr>
          <th>worker</th><th>state</th><th>thread</th><th>connections</th><th>rooms</th><th>router entries</th>
          <th>mailbox</th><th>parked</th><th>refused</th><th>restarts</th><th>stalled</th><th>loop lag</th><th>heap</th><th>last exit</th>
        </tr></thead>
        <tbody>
          ${snap.workers.map((w) => html`<tr id=${`worker-${w.id}`} class=${`state-${health(w)}`} data-state=${w.state}>
            <td>${w.id}</td>
            <td><span class="dot"></span>${w.state}</td>
            <td>${w.threadId}</td>
            <td class="num">${fmtInt(w.connections)}</td>
            <td class="num">${fmtInt(w.rooms)}</td>
            <td class="num">${fmtInt(w.routerEntries)}</td>
            <td class="num">${fmtBytes(w.mailbox.usedBytes)} / ${fmtBytes(w.mailbox.capacityBytes)}</td>
            <td class="num">${fmtInt(w.mailbox.parked)}</td>
            <td class="num">${fmtInt(w.mailbox.rejected)}</td>
            <td class="num">${fmtInt(w.restarts)}</td>
            <td>${w.stalled ? `yes, ${fmtDuration(w.lastProgressAgoMs / 1000)}` : 'no'}</td>
            <td class="num">${w.state === 'ready' ? fmtMs(w.loopLagMs) : '–'}</td>
            <td class="num">${w.heapUsedBytes > 0 ? fmtBytes(w.heapUsedBytes) : '–'}</td>
            <td>${lastExit(w)}</td>
          </tr>`)}
          <tr id="worker-acceptor" class="state-ok">
            <td>acceptor</td><td><span class="dot"></span>main thread</td><td>0</td>
            <td colspan="8" class="muted">listening descriptors, control port, supervision, push dispatch</td>
            <td class="num">${fmtMs(snap.acceptor.loopLagMs)}</td>
            <td class="num">${fmtBytes(snap.acceptor.heapUsedBytes)}</td>
            <td>–</td>
          </tr>
        </tbody>
      </table>
      <p class="muted">Red: dead, failed (not restarted: crash loop) or stalled (its mailbox holds records it has not
      taken for supervisor.stallTimeoutMs). Heap and loop lag are written by each worker when it takes the
      supervisor's probe (every supervisor.probeIntervalMs).</p>
    </section>
  </div>`;
}
