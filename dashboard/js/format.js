// Number and time formatting for the pages.

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const axis = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** An integer with thousands separators; "–" for a missing value. */
export function fmtInt(n) {
  return n === null || n === undefined ? '–' : int.format(n);
}

/** A rate per second, one decimal below 100. */
export function fmtRate(n) {
  if (n === null || n === undefined) return '–';
  return n < 100 ? dec.format(n) : int.format(n);
}

/** An axis label: up to two decimals, so that small ranges get distinct ticks. */
export function fmtAxis(n) {
  return axis.format(n);
}

/** Bytes on an axis: decimals even below 1 KiB. */
export function fmtAxisBytes(n) {
  return fmtBytes(n, true);
}

export function fmtBytes(n, decimals = false) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 && !decimals ? int.format(n) : dec.format(n)} ${units[i]}`;
}

/** A latency given in ms: µs below 1 ms (pushes are written in tens of µs when idle). */
export function fmtLatency(n) {
  if (n === null || n === undefined) return '–';
  return n < 1 ? `${int.format(n * 1000)} µs` : fmtMs(n);
}

export function fmtMs(n) {
  return n === null || n === undefined ? '–' : `${dec.format(n)} ms`;
}

/** A duration in seconds as "3d 4h", "5h 2m", "4m 10s" or "12s". */
export function fmtDuration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** A time (ms since the epoch) as local date and time. */
export function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleString() : '–';
}
