// Rooms: the biggest rooms of a type (GET /goim/online/top), filtered by name; a name not among
// them is asked for directly (GET /goim/online/room).
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { fmtInt } from '../format.js';

const TOP = 100;

export class Rooms extends Component {
  constructor() {
    super();
    this.state = { type: 'live', search: '', rows: null, extra: null, error: '', loading: false, at: 0 };
  }

  componentDidMount() {
    void this.load();
  }

  async load() {
    const { type, search } = this.state;
    this.setState({ loading: true, error: '' });
    try {
      const rows = await api('GET', '/goim/online/top', { type, limit: TOP });
      let extra = null;
      const name = search.trim();
      if (name !== '' && !rows.some((r) => r.room_id === name)) {
        const counts = await api('GET', '/goim/online/room', { type, rooms: name });
        extra = { room_id: name, count: counts[name] ?? 0 };
      }
      this.setState({ rows, extra, loading: false, at: Date.now() });
    } catch (err) {
      this.setState({ error: err.message, loading: false });
    }
  }

  submit(e) {
    e.preventDefault();
    void this.load();
  }

  render(_props, { type, search, rows, extra, error, loading, at }) {
    const name = search.trim();
    const shown = rows === null ? [] : rows.filter((r) => name === '' || r.room_id.includes(name));
    return html`<div class="page" id="page-rooms">
      <section class="card">
        <h3>Rooms by online count</h3>
        <form class="row" onSubmit=${(e) => this.submit(e)}>
          <label>type <input id="rooms-type" value=${type} onInput=${(e) => this.setState({ type: e.currentTarget.value })} placeholder="live" /></label>
          <label>name <input id="rooms-search" value=${search} onInput=${(e) => this.setState({ search: e.currentTarget.value })} placeholder="search by name" /></label>
          <button id="rooms-refresh" type="submit" disabled=${loading}>${loading ? 'Loading…' : 'Search'}</button>
          <span class="muted">${at ? `as of ${new Date(at).toLocaleTimeString()}` : ''}</span>
        </form>
        ${error ? html`<p class="error" id="rooms-error">${error}</p>` : null}
        <table class="grid" id="rooms-table">
          <thead><tr><th>room</th><th>online</th></tr></thead>
          <tbody>
            ${shown.map((r) => html`<tr data-room=${r.room_id}><td><code>${type}://${r.room_id}</code></td><td class="num">${fmtInt(r.count)}</td></tr>`)}
            ${extra !== null ? html`<tr data-room=${extra.room_id} class="muted"><td><code>${type}://${extra.room_id}</code> (not in the top ${TOP})</td><td class="num">${fmtInt(extra.count)}</td></tr>` : null}
          </tbody>
        </table>
        ${rows !== null && shown.length === 0 && extra === null ? html`<p class="muted" id="rooms-empty">No room of type "${type}" ${name ? `matches "${name}"` : 'has members'}.</p>` : null}
        <p class="muted">Counts are the workers' member counts summed when asked (a room is <code>type://name</code>).</p>
      </section>
    </div>`;
  }
}
