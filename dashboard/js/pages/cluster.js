// Cluster: the live boxes and their leases, this box's engine (state, probe latency, errors) and
// each worker's own engine connections, from the acceptor's cluster part (docs/cluster.md). The
// navigation shows it only in cluster mode; on one box it says so.
import { html } from '../html.js';
import { fmtDuration, fmtInt, fmtMs } from '../format.js';

/** ok (up), warn (connecting) or bad (down, stale). */
function engineHealth(state) {
  return state === 'up' ? 'ok' : state === 'connecting' ? 'warn' : 'bad';
}

function Stat({ id, label, value, note, cls }) {
  return html`<div class="stat">
    <div class="stat-label">${label}</div>
    <div class=${`stat-value ${cls ?? ''}`} id=${id}>${value}</div>
    ${note ? html`<div class="stat-note">${note}</div>` : null}
  </div>`;
}

export function Cluster({ snap }) {
  const c = snap.cluster;
  if (c === null) {
    return html`<div class="page" id="page-cluster"><section class="card"><h3>Cluster</h3>
      <p id="cluster-single">Single box: cluster mode is off (<code>cluster.redisUrl</code> is empty).</p></section></div>`;
  }
  const state = engineHealth(c.state);
  return html`<div class="page" id="page-cluster">
    <div class="stats">
      <${Stat} id="cluster-engine-state" label="Engine" value=${c.state} cls=${state === 'ok' ? 'ok' : state === 'bad' ? 'error' : ''} note=${c.url} />
      <${Stat} id="cluster-probe" label="Probe round trip" value=${fmtMs(c.probeMs)} note="own pub/sub publish, back" />
      <${Stat} id="cluster-errors" label="Engine errors" value=${fmtInt(c.errors)} note=${`count rounds failed ${fmtInt(c.countErrors)}`} />
      <${Stat} id="cluster-box-count" label="Live boxes" value=${fmtInt(c.boxes.length)} note=${`counts ${fmtMs(c.countsAgeMs)} old`} />
      <${Stat} id="cluster-lease" label="This box's lease" value=${c.lease.held ? 'held' : 'not held'} cls=${c.lease.held ? 'ok' : 'error'} note=${`${c.nodeId}: ${fmtMs(c.lease.leftMs)} left of ${fmtMs(c.leaseMs)}`} />
    </div>
    <section class="card">
      <h3>Boxes</h3>
      <table class="grid" id="cluster-boxes">
        <thead><tr><th>box</th><th>lease left</th><th>up</th><th>connections</th><th>client IPs</th><th>count age</th><th>addresses</th></tr></thead>
        <tbody>
          ${c.boxes.map((b) => html`<tr id=${`box-${b.nodeId}`} data-box=${b.nodeId} class=${b.leaseLeftMs > 0 ? 'state-ok' : 'state-bad'}>
            <td><span class="dot"></span>${b.nodeId}${b.nodeId === c.nodeId ? html` <span class="tag">this box</span>` : null}</td>
            <td class="num">${fmtMs(b.leaseLeftMs)}</td>
            <td>${b.upMs === null ? '–' : fmtDuration(b.upMs / 1000)}</td>
            <td class="num">${fmtInt(b.connections)}</td>
            <td class="num">${fmtInt(b.ips)}</td>
            <td class="num">${fmtMs(b.countAgeMs)}</td>
            <td>${Object.entries(b.addrs).map(([k, v]) => html`<span class="tag">${k} ${v}</span>`)}</td>
          </tr>`)}
        </tbody>
      </table>
      <p class="muted">A box is listed while its lease is live: a box that dies leaves the list within cluster.leaseMs
      (${fmtMs(c.leaseMs)}). Its connections are those it published last (every cluster.countIntervalMs).</p>
    </section>
    <section class="card">
      <h3>This box's engine connections</h3>
      <table class="grid" id="cluster-workers">
        <thead><tr><th>thread</th><th>state</th><th>probe</th><th>errors</th><th>directory writes failed</th></tr></thead>
        <tbody>
          ${c.workers.map((w) => html`<tr id=${`cluster-worker-${w.worker}`} class=${`state-${engineHealth(w.state)}`}>
            <td>worker ${w.worker}</td><td><span class="dot"></span>${w.state}</td><td class="num">${fmtMs(w.probeMs)}</td>
            <td class="num">${fmtInt(w.errors)}</td><td class="num">${fmtInt(w.directoryFailures)}</td>
          </tr>`)}
        </tbody>
      </table>
      <p class="muted">Each worker has its own command and subscriber connections to the engine; the box's engine state is
      up only when the acceptor's and every worker's are.</p>
    </section>
  </div>`;
}
