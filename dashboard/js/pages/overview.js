// Overview: the headline numbers and the charts of the last five minutes.
import { html } from '../html.js';
import { Chart } from '../chart.js';
import { fmtAxisBytes, fmtBytes, fmtInt, fmtLatency, fmtMs, fmtRate } from '../format.js';

function Stat({ id, label, value, note }) {
  return html`<div class="stat">
    <div class="stat-label">${label}</div>
    <div class="stat-value" id=${id}>${value}</div>
    ${note ? html`<div class="stat-note">${note}</div>` : null}
  </div>`;
}

export function Overview({ snap, hello, history }) {
  const r = snap.rates;
  const v = history.version;
  const t = history.t;
  const lagSeries = ['acceptor', ...Array.from({ length: hello.workers }, (_, i) => `worker ${i}`)];
  return html`<div class="page" id="page-overview">
    <div class="stats">
      <${Stat} id="stat-connections" label="Connections" value=${fmtInt(snap.connections)} />
      <${Stat} id="stat-workers" label="Workers ready" value=${`${snap.ready} / ${hello.workers}`} />
      <${Stat} id="stat-connects" label="Connects / s" value=${fmtRate(r?.connects)} note=${`disconnects ${fmtRate(r?.disconnects)} / s`} />
      <${Stat} id="stat-pushes" label="Pushes / s" value=${fmtRate(r?.pushes)} note=${`deliveries ${fmtRate(r?.deliveries)} / s`} />
      <${Stat} id="stat-bytes" label="Bytes out / s" value=${r ? fmtBytes(r.bytesOut) : '–'} note="push bodies × connections" />
      <${Stat} id="stat-inflight" label="Pushes in flight" value=${fmtInt(snap.pushesInFlight)} />
      <${Stat} id="stat-latency" label="Push-to-write p99" value=${fmtLatency(snap.latency?.p99Ms)} note=${`p50 ${fmtLatency(snap.latency?.p50Ms)}, ${fmtInt(snap.latency?.count)} pushes written`} />
      <${Stat} id="stat-lag" label="Acceptor loop lag" value=${fmtMs(snap.acceptor.loopLagMs)} note=${`max ${fmtMs(snap.acceptor.loopLagMaxMs)}`} />
    </div>
    <div class="charts">
      <${Chart} id="chart-connections" title="Connections" series=${['connections']} data=${[t, history.connections]} version=${v} format=${fmtInt} />
      <${Chart} id="chart-connects" title="Connects and disconnects per second" series=${['connects', 'disconnects']} data=${[t, history.connects, history.disconnects]} version=${v} format=${fmtRate} />
      <${Chart} id="chart-pushes" title="Pushes and deliveries per second" series=${['pushes', 'deliveries']} data=${[t, history.pushes, history.deliveries]} version=${v} format=${fmtRate} />
      <${Chart} id="chart-bytes" title="Bytes out per second (push bodies × connections)" series=${['bytes out']} data=${[t, history.bytesOut]} version=${v} format=${fmtBytes} axis=${fmtAxisBytes} />
      <${Chart} id="chart-lag" title="Event-loop lag per thread" series=${lagSeries} data=${[t, ...history.lag]} version=${v} format=${fmtMs} axis=${fmtMs} />
      <${Chart} id="chart-latency" title="Push-to-write latency p50 / p99" series=${['p50', 'p99']} data=${[t, history.latencyP50, history.latencyP99]} version=${v} format=${fmtLatency} axis=${fmtLatency} />
    </div>
  </div>`;
}
