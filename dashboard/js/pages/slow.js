// Slow consumers and limits: mailbox depths, what the slow-consumer policies did, refusals by limit.
import { html } from '../html.js';
import { fmtBytes, fmtInt, fmtRate } from '../format.js';

/** Entries per worker (src/deepest-queues.ts). */
const DEEPEST = 4;

export function Slow({ snap }) {
  const rates = snap.rates?.refusals ?? {};
  const limits = Object.entries(snap.refusals);
  const queues = snap.workers
    .flatMap((w) => (w.deepestQueues ?? []).map((q) => ({ worker: w.id, ...q })))
    .sort((a, b) => b.bytes - a.bytes);
  return html`<div class="page" id="page-slow">
    <div class="stats">
      <div class="stat"><div class="stat-label">Slow closes</div><div class="stat-value" id="slow-closed">${fmtInt(snap.slow.closed)}</div><div class="stat-note">policy close (op 6 4005)</div></div>
      <div class="stat"><div class="stat-label">Gap markers</div><div class="stat-value" id="slow-gaps">${fmtInt(snap.slow.gaps)}</div><div class="stat-note">policy drop-oldest: gaps opened (op 104)</div></div>
      <div class="stat"><div class="stat-label">Pushes dropped</div><div class="stat-value" id="slow-dropped">${fmtInt(snap.slow.dropped)}</div><div class="stat-note">policy drop-oldest</div></div>
    </div>
    <section class="card">
      <h3>Queues per worker</h3>
      <table class="grid" id="queues-table">
        <thead><tr><th>worker</th><th>mailbox used</th><th>full events</th><th>parked</th><th>refused</th><th>undeliverable</th><th>slow closes</th><th>gaps opened</th><th>pushes dropped</th></tr></thead>
        <tbody>
          ${snap.workers.map((w) => html`<tr id=${`queue-${w.id}`}>
            <td>${w.id}</td>
            <td class="num">${fmtBytes(w.mailbox.usedBytes)} of ${fmtBytes(w.mailbox.capacityBytes)}</td>
            <td class="num">${fmtInt(w.mailbox.fullEvents)}</td>
            <td class="num">${fmtInt(w.mailbox.parked)}</td>
            <td class="num">${fmtInt(w.mailbox.rejected)}</td>
            <td class="num">${fmtInt(w.mailbox.undeliverable)}</td>
            <td class="num">${fmtInt(w.slowConsumersClosed)}</td>
            <td class="num">${fmtInt(w.slowConsumerGaps)}</td>
            <td class="num">${fmtInt(w.slowMessagesDropped)}</td>
          </tr>`)}
        </tbody>
      </table>
    </section>
    <section class="card">
      <h3>Deepest outbound queues</h3>
      ${queues.length === 0
        ? html`<p class="muted" id="deep-queues-none">No connection has anything queued (each worker reports its ${DEEPEST} deepest, re-read every second while any is backed up).</p>`
        : html`<table class="grid" id="deep-queues-table">
            <thead><tr><th>worker</th><th>connection</th><th>mid</th><th>queued</th></tr></thead>
            <tbody>
              ${queues.map((q) => html`<tr data-conn=${`${q.worker}:${q.conn}`}>
                <td>${q.worker}</td><td class="num">${q.conn}</td><td class="num">${q.mid}</td><td class="num">${fmtBytes(q.bytes)}</td>
              </tr>`)}
            </tbody>
          </table>`}
      <p class="muted">A connection's outbound queue is its socket buffer plus the pushes held for it; past
      <code>push.writeQueueBytes</code> its slow-consumer policy applies (close, or drop the oldest).</p>
    </section>
    <section class="card">
      <h3>Limit refusals</h3>
      <table class="grid" id="limits-table">
        <thead><tr><th>limit (config key)</th><th>refused</th><th>per second</th></tr></thead>
        <tbody>
          ${limits.map(([limit, n]) => html`<tr data-limit=${limit} class=${n > 0 ? 'hot' : ''}>
            <td><code>${limit}</code></td><td class="num">${fmtInt(n)}</td><td class="num">${rates[limit] ? fmtRate(rates[limit]) : '0'}</td>
          </tr>`)}
        </tbody>
      </table>
    </section>
  </div>`;
}
