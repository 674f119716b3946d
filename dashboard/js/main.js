// The ringcast dashboard: asks whether it may see the data (the control token), then keeps one
// stream open (GET /dashboard/stream) and shows its snapshots on the pages chosen by the URL's hash
// (Cluster only in cluster mode).
import { html, render, Component } from './html.js';
import { LiveStream, clearToken, getToken, session, setToken } from './api.js';
import { History } from './history.js';
import { fmtDuration } from './format.js';
import { Overview } from './pages/overview.js';
import { Workers, health } from './pages/workers.js';
import { Rooms } from './pages/rooms.js';
import { Users } from './pages/users.js';
import { Slow } from './pages/slow.js';
import { Actions } from './pages/actions.js';
import { Cluster } from './pages/cluster.js';

const PAGES = [
  ['overview', 'Overview'],
  ['workers', 'Workers'],
  ['cluster', 'Cluster'],
  ['rooms', 'Rooms'],
  ['users', 'User lookup'],
  ['slow', 'Slow consumers & limits'],
  ['actions', 'Actions'],
];

function pageFromHash() {
  const name = location.hash.replace(/^#/, '');
  return PAGES.some(([p]) => p === name) ? name : 'overview';
}

class TokenPrompt extends Component {
  constructor() {
    super();
    this.state = { token: '' };
  }

  submit(e) {
    e.preventDefault();
    this.props.onToken(this.state.token);
  }

  render({ error, checking }, { token }) {
    return html`<main class="prompt" id="token-prompt">
      <form class="card stack" id="token-form" onSubmit=${(e) => this.submit(e)}>
        <h2>ringcast dashboard</h2>
        <p>This server needs its control token (<code>control.token</code>). It is kept in this tab only (session storage) and sent as a bearer token.</p>
        <input id="token" type="password" autocomplete="current-password" value=${token} onInput=${(e) => this.setState({ token: e.currentTarget.value })} placeholder="control token" />
        <button id="token-submit" type="submit" disabled=${checking || token === ''}>${checking ? 'Checking…' : 'Open the dashboard'}</button>
        ${error ? html`<p class="error" id="token-error">${error}</p>` : null}
      </form>
    </main>`;
  }
}

class App extends Component {
  constructor() {
    super();
    this.state = { phase: 'checking', error: '', hello: null, snap: null, stream: 'connecting', streamError: '', page: pageFromHash() };
    this.history = null;
    this.stream = new LiveStream({
      onHello: (hello) => {
        if (this.history === null || this.history.lag.length !== hello.workers + 1) this.history = new History(hello.workers);
        this.setState({ hello });
      },
      onTick: (snap) => {
        this.history?.add(snap);
        this.setState({ snap });
      },
      onState: (stream, streamError) => this.setState({ stream, streamError }),
      onUnauthorized: () => {
        clearToken();
        this.setState({ phase: 'token', error: 'The token is no longer accepted; enter it again.' });
      },
    });
  }

  componentDidMount() {
    window.addEventListener('hashchange', () => this.setState({ page: pageFromHash() }));
    void this.check();
  }

  /** Asks the server whether this tab may see the data, with the token it holds (if any). */
  async check(entered = false) {
    this.setState({ phase: entered ? 'token' : 'checking', checking: true });
    let s;
    try {
      s = await session();
    } catch (err) {
      this.setState({ phase: 'error', checking: false, error: err.message });
      return;
    }
    if (s.authorized) {
      this.setState({ phase: 'live', checking: false, error: '' });
      this.stream.start();
      return;
    }
    const had = getToken() !== '';
    clearToken();
    this.setState({ phase: 'token', checking: false, error: had ? 'Wrong token: the server refused it.' : '' });
  }

  onToken(token) {
    setToken(token);
    void this.check(true);
  }

  renderPage() {
    const { page, snap, hello } = this.state;
    const readOnly = hello.readOnly;
    if (page === 'overview') return html`<${Overview} snap=${snap} hello=${hello} history=${this.history} />`;
    if (page === 'workers') return html`<${Workers} snap=${snap} />`;
    if (page === 'cluster') return html`<${Cluster} snap=${snap} />`;
    if (page === 'rooms') return html`<${Rooms} />`;
    if (page === 'users') return html`<${Users} />`;
    if (page === 'slow') return html`<${Slow} snap=${snap} />`;
    return html`<${Actions} readOnly=${readOnly} draining=${snap.status === 'draining'} />`;
  }

  render(_props, { phase, error, checking, hello, snap, stream, streamError, page }) {
    if (phase === 'checking') return html`<p class="loading">Connecting to the control port…</p>`;
    if (phase === 'error') return html`<main class="prompt"><div class="card"><h2>ringcast dashboard</h2><p class="error" id="fatal-error">${error}</p><button onClick=${() => void this.check()}>Try again</button></div></main>`;
    if (phase === 'token') return html`<${TokenPrompt} error=${error} checking=${checking} onToken=${(t) => this.onToken(t)} />`;
    const ready = hello !== null && snap !== null;
    const pages = PAGES.filter(([p]) => !(p === 'actions' && hello?.readOnly) && !(p === 'cluster' && (!ready || snap.cluster == null)));
    const clusterBad = ready && snap.cluster != null && snap.cluster.state !== 'up';
    const bad = ready ? snap.workers.filter((w) => health(w) === 'bad').length : 0;
    return html`<div class="layout">
      <header>
        <h1>ringcast</h1>
        ${ready ? html`<span class="pill status-${snap.status}" id="server-status">${snap.status}</span>
          <span class="muted" id="uptime">up ${fmtDuration((snap.t - hello.startedAt) / 1000)}</span>
          ${hello.readOnly ? html`<span class="pill" id="read-only">read-only</span>` : null}` : null}
        <span class="spacer"></span>
        <span class=${`pill stream-${stream}`} id="stream-state">${stream === 'live' ? 'live' : stream === 'lost' ? 'disconnected' : 'connecting'}</span>
      </header>
      <nav>
        ${pages.map(([p, label]) => html`<a id=${`nav-${p}`} href=${`#${p}`} class=${p === page ? 'active' : ''}>${label}${p === 'workers' && bad > 0 ? html` <span class="badge">${bad}</span>` : null}${p === 'cluster' && clusterBad ? html` <span class="badge" id="cluster-badge">${snap.cluster.state}</span>` : null}</a>`)}
      </nav>
      ${stream === 'lost' ? html`<div class="banner" id="stream-banner">Lost the live stream (${streamError}); reconnecting…</div>` : null}
      <main>${ready ? this.renderPage() : html`<p class="loading">Waiting for the first figures…</p>`}</main>
    </div>`;
  }
}

render(html`<${App} />`, document.getElementById('app'));
