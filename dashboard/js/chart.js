// A uPlot time-series chart as a preact component. The data arrays are owned by the caller
// (history.js) and grow in place; `version` tells the chart that they changed.
import uPlot from '../vendor/uPlot.esm.js';
import { html, Component } from './html.js';
import { fmtAxis } from './format.js';

/** Seconds of history a chart shows (history.js keeps as many snapshots). */
const WINDOW_SEC = 300;

export const COLORS = ['#2f81f7', '#e5534b', '#3fb950', '#d29922', '#a371f7', '#39c5cf', '#f778ba', '#8b949e'];

export class Chart extends Component {
  componentDidMount() {
    const { series, format } = this.props;
    const axisFormat = this.props.axis ?? fmtAxis;
    const axisValues = (_u, ticks) => ticks.map((v) => axisFormat(v));
    const opts = {
      width: this.width(),
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      // A window that ends now: it widens with the history from one minute up to WINDOW_SEC, then slides.
      scales: { x: { time: true, range: (_u, min, max) => [max - Math.min(WINDOW_SEC, Math.max(60, max - min)), max] }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: '#8b949e', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' } },
        { stroke: '#8b949e', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' }, values: axisValues, size: 70 },
      ],
      series: [{}, ...series.map((s, i) => ({ label: s, stroke: COLORS[i % COLORS.length], width: 2, value: (_u, v) => (v === null ? '–' : format(v)) }))],
    };
    this.plot = new uPlot(opts, this.props.data, this.box);
    this.onResize = () => this.plot.setSize({ width: this.width(), height: 180 });
    window.addEventListener('resize', this.onResize);
  }

  width() {
    return Math.max(240, (this.box?.clientWidth ?? 480) - 8);
  }

  shouldComponentUpdate(next) {
    return next.version !== this.props.version;
  }

  componentDidUpdate() {
    this.plot.setData(this.props.data);
  }

  componentWillUnmount() {
    window.removeEventListener('resize', this.onResize);
    this.plot.destroy();
  }

  render({ title, id }) {
    return html`<section class="card chart" id=${id}>
      <h3>${title}</h3>
      <div class="plot" ref=${(el) => (this.box = el)}></div>
    </section>`;
  }
}
