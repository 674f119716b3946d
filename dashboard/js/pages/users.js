// User lookup: a mid's connections (GET /sessions), its devices and read positions (GET /im/devices)
// and the tail of its inbox (GET /im/inbox from the newest seq back).
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { fmtTime } from '../format.js';

const TAIL = 20;

export class Users extends Component {
  constructor() {
    super();
    this.state = { mid: '', busy: false, result: null };
  }

  async lookup(e) {
    e.preventDefault();
    const mid = this.state.mid.trim();
    this.setState({ busy: true, result: null });
    const settle = (p) => p.then((value) => ({ value }), (err) => ({ error: err.message }));
    const [sessions, devices] = await Promise.all([settle(api('GET', '/sessions', { mid })), settle(api('GET', '/im/devices', { mid }))]);
    let inbox;
    if (devices.error !== undefined) inbox = { error: devices.error };
    else inbox = await settle(api('GET', '/im/inbox', { mid, after: Math.max(0, devices.value.last_seq - TAIL), limit: TAIL }));
    this.setState({ busy: false, result: { mid, sessions, devices, inbox } });
  }

  render(_props, { mid, busy, result }) {
    return html`<div class="page" id="page-users">
      <section class="card">
        <h3>User lookup</h3>
        <form class="row" onSubmit=${(e) => void this.lookup(e)}>
          <label>mid <input id="user-mid" inputmode="numeric" value=${mid} onInput=${(e) => this.setState({ mid: e.currentTarget.value })} placeholder="user id" /></label>
          <button id="user-lookup" type="submit" disabled=${busy || mid.trim() === ''}>${busy ? 'Looking up…' : 'Look up'}</button>
        </form>
      </section>
      ${result === null ? null : html`
        <section class="card" id="user-sessions">
          <h3>Connections of ${result.mid}</h3>
          ${result.sessions.error !== undefined ? html`<p class="error">${result.sessions.error}</p>` : result.sessions.value.sessions.length === 0 ? html`<p class="muted">No connection.</p>` : html`
            <table class="grid">
              <thead><tr><th>key</th><th>platform</th><th>protocol</th><th>box</th><th>worker</th><th>rooms</th><th>since</th></tr></thead>
              <tbody>${result.sessions.value.sessions.map((s) => html`<tr data-key=${s.key}>
                <td><code>${s.key}</code></td><td>${s.platform || '–'}</td><td>${s.protocol ?? '–'}</td><td>${s.node ?? '–'}</td><td>${s.worker}</td>
                <td>${s.rooms === null || s.rooms.length === 0 ? '–' : s.rooms.map((r) => html`<code class="tag">${r}</code>`)}</td><td>${fmtTime(s.since)}</td>
              </tr>`)}</tbody>
            </table>`}
        </section>
        <section class="card" id="user-devices">
          <h3>Devices and read positions</h3>
          ${result.devices.error !== undefined ? html`<p class="error">${result.devices.error}</p>` : html`
            <p class="muted">Newest message: seq ${result.devices.value.last_seq}.</p>
            ${result.devices.value.devices.length === 0 ? html`<p class="muted">No device has synced.</p>` : html`
              <table class="grid">
                <thead><tr><th>device (key)</th><th>read up to seq</th><th>unread</th></tr></thead>
                <tbody>${result.devices.value.devices.map((d) => html`<tr data-device=${d.device}><td><code>${d.device}</code></td><td class="num">${d.read}</td><td class="num">${Math.max(0, result.devices.value.last_seq - d.read)}</td></tr>`)}</tbody>
              </table>`}`}
        </section>
        <section class="card" id="user-inbox">
          <h3>Inbox tail (last ${TAIL})</h3>
          ${result.inbox.error !== undefined ? html`<p class="error">${result.inbox.error}</p>` : result.inbox.value.messages.length === 0 ? html`<p class="muted">Empty.</p>` : html`
            <table class="grid">
              <thead><tr><th>seq</th><th>from</th><th>op</th><th>body</th><th>client_msg_id</th><th>stored</th></tr></thead>
              <tbody>${result.inbox.value.messages.map((m) => html`<tr data-seq=${m.seq}>
                <td class="num">${m.seq}</td><td>${m.group !== undefined ? `${m.from} (group ${m.group})` : m.from}</td><td>${m.op}</td>
                <td class="body">${m.body}</td><td>${m.client_msg_id || '–'}</td><td>${fmtTime(m.ts)}</td>
              </tr>`)}</tbody>
            </table>`}
        </section>`}
    </div>`;
  }
}
