// Actions: push to keys, mids, a room or everyone; kick a connection by key; start a drain (after
// a confirmation). Each uses the ordinary control route and shows its answer or its error.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { fmtInt } from '../format.js';

const TARGETS = {
  keys: { label: 'connection keys', placeholder: 'key1, key2' },
  mids: { label: 'user ids (mids)', placeholder: '123, 124' },
  room: { label: 'room', placeholder: 'live://1000' },
  all: { label: 'every connection', placeholder: '' },
};

/** The push route and query for a target, or throws with what is wrong with the input. */
function pushRequest(target, to, op) {
  const operation = op.trim();
  if (target === 'all') return ['/goim/push/all', { operation }];
  const list = to.trim();
  if (list === '') throw new Error(`enter the ${TARGETS[target].label} to push to`);
  if (target === 'keys') return ['/goim/push/keys', { operation, keys: list }];
  if (target === 'mids') return ['/goim/push/mids', { operation, mids: list }];
  const sep = list.indexOf('://');
  if (sep <= 0) throw new Error('a room is type://name, e.g. live://1000');
  return ['/goim/push/room', { operation, type: list.slice(0, sep), room: list.slice(sep + 3) }];
}

function Outcome({ id, outcome }) {
  if (outcome === null) return null;
  return html`<p id=${id} class=${outcome.ok ? 'ok' : 'error'}>${outcome.text}</p>`;
}

export class Actions extends Component {
  constructor() {
    super();
    this.state = { target: 'keys', to: '', op: '1000', body: '', push: null, pushing: false, key: '', kick: null, confirming: false, drain: null };
  }

  async push(e) {
    e.preventDefault();
    const { target, to, op, body } = this.state;
    this.setState({ pushing: true, push: null });
    try {
      const [path, query] = pushRequest(target, to, op);
      const data = await api('POST', path, query, body);
      this.setState({ pushing: false, push: { ok: true, text: `Queued to ${fmtInt(data.connections)} connection${data.connections === 1 ? '' : 's'}.` } });
    } catch (err) {
      this.setState({ pushing: false, push: { ok: false, text: `Push failed: ${err.message}` } });
    }
  }

  async kick(e) {
    e.preventDefault();
    const key = this.state.key.trim();
    try {
      if (key === '') throw new Error('enter the key of the connection to close');
      const data = await api('POST', '/admin/kick', { key });
      this.setState({ kick: { ok: true, text: `Closed ${data.kicked} connection with key ${data.key} (op 6 4006).` } });
    } catch (err) {
      this.setState({ kick: { ok: false, text: `Kick failed: ${err.message}` } });
    }
  }

  async drain() {
    this.setState({ confirming: false });
    try {
      await api('POST', '/admin/drain');
      this.setState({ drain: { ok: true, text: 'Draining: clients are told to reconnect elsewhere; the server exits when they are gone or after shutdown.graceMs.' } });
    } catch (err) {
      this.setState({ drain: { ok: false, text: `Drain failed: ${err.message}` } });
    }
  }

  render({ readOnly, draining }, s) {
    if (readOnly) return html`<div class="page" id="page-actions"><section class="card"><p class="muted">Read-only dashboard (control.dashboardReadOnly): no actions.</p></section></div>`;
    const target = TARGETS[s.target];
    return html`<div class="page" id="page-actions">
      <section class="card">
        <h3>Push</h3>
        <form class="stack" id="push-form" onSubmit=${(e) => void this.push(e)}>
          <div class="row">
            <label>to <select id="push-target" value=${s.target} onChange=${(e) => this.setState({ target: e.currentTarget.value, push: null })}>
              ${Object.entries(TARGETS).map(([k, t]) => html`<option value=${k}>${t.label}</option>`)}
            </select></label>
            ${s.target === 'all' ? null : html`<input id="push-to" class="wide" value=${s.to} placeholder=${target.placeholder} onInput=${(e) => this.setState({ to: e.currentTarget.value })} />`}
            <label>op <input id="push-op" class="narrow" value=${s.op} onInput=${(e) => this.setState({ op: e.currentTarget.value })} /></label>
          </div>
          <textarea id="push-body" rows="4" placeholder="body (sent as is)" value=${s.body} onInput=${(e) => this.setState({ body: e.currentTarget.value })}></textarea>
          <div class="row"><button id="push-send" type="submit" disabled=${s.pushing}>${s.pushing ? 'Pushing…' : 'Push'}</button></div>
        </form>
        <${Outcome} id="push-outcome" outcome=${s.push} />
      </section>
      <section class="card">
        <h3>Kick a connection</h3>
        <form class="row" onSubmit=${(e) => void this.kick(e)}>
          <label>key <input id="kick-key" class="wide" value=${s.key} onInput=${(e) => this.setState({ key: e.currentTarget.value })} /></label>
          <button id="kick-send" type="submit">Kick</button>
        </form>
        <${Outcome} id="kick-outcome" outcome=${s.kick} />
        <p class="muted">The client gets op 6 code 4006 and may reconnect with backoff.</p>
      </section>
      <section class="card danger">
        <h3>Drain the server</h3>
        <p class="muted">As SIGTERM: stop accepting, tell every client to reconnect elsewhere, let queues flush, then exit.</p>
        ${s.confirming
          ? html`<div class="row" id="drain-confirmation">
              <strong>Really drain and stop this server?</strong>
              <button id="drain-confirm" class="danger" onClick=${() => void this.drain()}>Drain now</button>
              <button id="drain-cancel" onClick=${() => this.setState({ confirming: false })}>Cancel</button>
            </div>`
          : html`<button id="drain-start" class="danger" disabled=${draining} onClick=${() => this.setState({ confirming: true, drain: null })}>${draining ? 'Draining…' : 'Start a drain…'}</button>`}
        <${Outcome} id="drain-outcome" outcome=${s.drain} />
      </section>
    </div>`;
  }
}
