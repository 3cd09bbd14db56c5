// The operator's usage statistics page (/admin, issue 13 item 3): sign in
// with the admin token (kept in sessionStorage only), pick a period, and
// read GET /v1/admin/stats drawn as charts — SVG made here, no library —
// with the numbers of each chart one click away (a table under it) and
// the same answer as a CSV download. Counts the service suppressed (under
// the threshold, or hidden so that none can be recomputed) are shown as
// hidden, never guessed.

import { $, el, api, showView } from './common.js';
import {
  t, setT, setNodes, dataSpan, regSpan, applyPage, loadTypes, typeName, has, lang,
} from './i18n.js';

const KEY = 'eidwallet.admin.token'; // sessionStorage only: gone when the tab closes
const VIEWS = ['signin-view', 'stats-view'];
const SVG = 'http://www.w3.org/2000/svg';
const DAY = 86400000;
const MAX_DAYS = { day: 366, hour: 31 };

const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';
const numFormat = new Intl.NumberFormat(locale);
const msFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

let last = null; // the answer shown
let loading = null; // the AbortController of the load in flight

function go(name) {
  showView(VIEWS, name);
  document.body.dataset.view = name;
}

function token() {
  return sessionStorage.getItem(KEY) || '';
}

// ---- sign-in ----

function signedOut(message) {
  if (loading) loading.abort();
  sessionStorage.removeItem(KEY);
  last = null;
  $('figures').replaceChildren();
  $('charts').replaceChildren();
  $('sign-out').hidden = true;
  $('admin-token').value = '';
  const err = $('signin-error');
  if (message) setT(err, message);
  else err.textContent = '';
  err.hidden = !message;
  go('signin-view');
  $('admin-token').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $('admin-token').value.trim();
  const err = $('signin-error');
  err.hidden = true;
  if (!key) {
    setT(err, 'a.signin.empty');
    err.hidden = false;
    $('admin-token').focus();
    return;
  }
  let st;
  try {
    st = await api('GET', '/v1/admin/stats?' + query().toString(), { token: key });
  } catch (e) {
    if (e.status === 401) setT(err, 'a.signin.refused');
    else if (e.status === 403) setT(err, 'a.signin.not_admin');
    else if (e.status === 0) setT(err, 'a.signin.network');
    else setT(err, 'a.signin.failed');
    err.hidden = false;
    $('admin-token').focus();
    return;
  }
  sessionStorage.setItem(KEY, key);
  $('admin-token').value = '';
  $('sign-out').hidden = false;
  go('stats-view');
  show(st);
}

// ---- the period ----

/** A UTC date (YYYY-MM-DD) as ms, or NaN. */
function dateMs(s) {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(s + 'T00:00:00Z') : NaN;
}

function isoDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last 30 days, today (UTC) included. */
function defaultRange() {
  const today = dateMs(isoDate(Date.now()));
  $('range-to').value = isoDate(today);
  $('range-from').value = isoDate(today - 29 * DAY);
}

/** The query of the form: from midnight of the first date to midnight after the last. */
function query() {
  const by = $('range-by').value === 'hour' ? 'hour' : 'day';
  const from = dateMs($('range-from').value);
  const to = dateMs($('range-to').value);
  const q = new URLSearchParams({ by });
  if (!Number.isNaN(from) && !Number.isNaN(to)) {
    q.set('from', new Date(from).toISOString().replace('.000Z', 'Z'));
    q.set('to', new Date(to + DAY).toISOString().replace('.000Z', 'Z'));
  }
  return q;
}

/** Whether the form's period is one the service takes. */
function rangeOK() {
  const by = $('range-by').value === 'hour' ? 'hour' : 'day';
  const from = dateMs($('range-from').value);
  const to = dateMs($('range-to').value);
  return !Number.isNaN(from) && !Number.isNaN(to) && from <= to && (to - from) / DAY + 1 <= MAX_DAYS[by];
}

/** The query of the form's period, the error cleared; null, and why said, when the service would refuse it. */
function checkedQuery() {
  const err = $('stats-error');
  err.hidden = true;
  if (!rangeOK()) {
    setT(err, 'a.range.bad');
    err.hidden = false;
    return null;
  }
  return query();
}

async function load(ev) {
  if (ev) ev.preventDefault();
  const q = checkedQuery();
  if (!q) return;
  if (loading) loading.abort();
  loading = new AbortController();
  setT($('stats-status'), 'a.loading');
  try {
    show(await api('GET', '/v1/admin/stats?' + q.toString(), { token: token(), signal: loading.signal }));
  } catch (e) {
    if (e.code === 'aborted') return;
    fail(e);
  } finally {
    loading = null;
  }
}

function fail(e) {
  if (e.status === 401) {
    signedOut('a.error.key_gone');
    return;
  }
  $('stats-status').textContent = '';
  const err = $('stats-error');
  if (e.status === 400) setT(err, 'a.range.bad');
  else if (e.status === 0) setT(err, 'a.signin.network');
  else setT(err, 'a.error.unavailable');
  err.hidden = false;
}

/** The CSV of the same period, fetched with the token and saved. */
async function downloadCSV() {
  const q = checkedQuery();
  if (!q) return;
  q.set('format', 'csv');
  try {
    const resp = await api('GET', '/v1/admin/stats?' + q.toString(), { token: token(), raw: true });
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `eidwallet-stats-${q.get('from') || ''}-${q.get('by')}.csv`.replace(/:/g, '') });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setT($('stats-status'), 'a.csv.done');
  } catch (e) {
    fail(e);
  }
}

// ---- words ----

const num = (n) => numFormat.format(n);

/** A count as text: the number, or the mark of a suppressed one. */
function countText(n) {
  return n === null || n === undefined ? t('a.suppressed') : num(n);
}

/** A cell or label holding a count (data), or the suppressed mark (ours). */
function countNode(tag, n, attrs = {}) {
  const e = el(tag, attrs);
  if (n === null || n === undefined) setT(e, 'a.suppressed');
  else e.append(dataSpan(num(n)));
  return e;
}

/** The start of a bucket as text, in UTC. */
function bucketText(at, by, short) {
  const opts = by === 'hour'
    ? { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }
    : { day: '2-digit', month: '2-digit', year: short ? undefined : 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale, opts).format(new Date(at));
}

/** The label of a value of a dimension, marked as what it is. */
function label(dim, value) {
  switch (dim) {
    case 'type':
      return regSpan(typeName(value));
    case 'flow':
    case 'outcome':
      return has(`a.${dim}.${value}`) ? el('span', { 'data-t': `a.${dim}.${value}` }, t(`a.${dim}.${value}`)) : dataSpan(value);
    case 'category':
      return value === 'external' ? el('span', { 'data-t': 'a.category.external' }, t('a.category.external')) : dataSpan(value);
    case 'reason': {
      const key = [`a.reason.${value}`, `v.why.${value}`, value.startsWith('kb_') ? 'v.why.kb' : ''].find((k) => k && has(k));
      return key ? el('span', { 'data-t': key }, t(key)) : dataSpan(value);
    }
    default:
      return dataSpan(value);
  }
}

// ---- drawing ----

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c) e.append(c);
  return e;
}

/** SVG text of data (numbers, dates). */
function svgData(x, y, text, attrs = {}) {
  const e = svg('text', { x, y, ...attrs });
  e.textContent = text;
  e.dataset.value = '';
  return e;
}

/** A tick step of about n steps up to max: 1, 2 or 5 times a power of ten. */
function niceStep(max, n) {
  const raw = Math.max(max / n, 1e-9);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

/** A figure: a heading, the chart, and its numbers behind one click. */
function figure(id, titleKey, altKey, chart, table, noteKey) {
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', t(altKey));
  chart.dataset.i18nAttr = `aria-label:${altKey}`;
  const f = el('figure', { id, class: 'chart' },
    el('h3', { 'data-t': titleKey }, t(titleKey)),
    noteKey ? el('p', { class: 'hint', 'data-t': noteKey }, t(noteKey)) : null,
    chart,
    el('details', { class: 'numbers' },
      el('summary', { 'data-t': 'a.numbers' }, t('a.numbers')),
      el('div', { class: 'table-box' }, table)));
  return f;
}

/** A table: header keys, then rows of nodes. */
function table(headKeys, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headKeys.map((k) => el('th', { scope: 'col', 'data-t': k }, t(k))))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r))));
}

const W = 720;
const H = 260;
const M = { left: 56, right: 12, top: 12, bottom: 40 };

/** The x axis labels of n buckets: about six, evenly spaced. */
function xLabels(g, buckets, by, x, band) {
  const every = Math.max(1, Math.ceil(buckets.length / 6));
  buckets.forEach((b, i) => {
    if (i % every) return;
    g.append(svgData(x(i) + band / 2, H - M.bottom + 18, bucketText(b.start, by, true), { 'text-anchor': 'middle', class: 'axis' }));
  });
}

/** The y axis: gridlines and labels from 0 to top. */
function yAxis(g, top, y, fmt = num) {
  const step = niceStep(top, 4);
  for (let v = 0; v <= top + step / 2; v += step) {
    g.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }));
    g.append(svgData(M.left - 6, y(v) + 5, fmt(v), { 'text-anchor': 'end', class: 'axis' }));
  }
}

/** A legend: swatches and the catalogue's names of the series. */
function legend(series) {
  return el('ul', { class: 'legend' }, series.map((s) =>
    el('li', {}, el('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), el('span', { 'data-t': s.key }, t(s.key)))));
}

/**
 * Stacked bars over time. series: [{key, cls, value(bucket)}]; when every
 * part of a bucket is hidden but its total is not, the total is drawn as
 * one bar (fallback).
 */
function barsOverTime(buckets, by, series, fallback) {
  const n = buckets.length;
  const stackOf = (b) => {
    const parts = series.map((s) => s.value(b));
    if (parts.some((v) => v === null || v === undefined)) {
      const total = fallback.value(b);
      return total === null || total === undefined ? [] : [{ s: fallback, v: total }];
    }
    return parts.map((v, i) => ({ s: series[i], v }));
  };
  const stacks = buckets.map(stackOf);
  const top = Math.max(1, ...stacks.map((st) => st.reduce((a, p) => a + p.v, 0)));
  const step = niceStep(top, 4);
  const ymax = Math.ceil(top / step) * step;
  const band = (W - M.left - M.right) / n;
  const x = (i) => M.left + i * band;
  const y = (v) => H - M.bottom - (v / ymax) * (H - M.top - M.bottom);
  const g = svg('g');
  yAxis(g, ymax, y);
  stacks.forEach((st, i) => {
    let base = 0;
    for (const p of st) {
      if (p.v <= 0) continue;
      const w = Math.max(1, band * 0.7);
      g.append(svg('rect', { x: x(i) + (band - w) / 2, y: y(base + p.v), width: w, height: y(base) - y(base + p.v), class: `bar ${p.s.cls}` }));
      base += p.v;
    }
  });
  xLabels(g, buckets, by, x, band);
  g.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: 'axis-line' }));
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot' }, g);
}

/** Lines over time, a gap where a value is hidden or missing. */
function linesOverTime(buckets, by, series, fmt = num) {
  const n = buckets.length;
  const values = series.map((s) => buckets.map(s.value));
  const top = Math.max(1e-9, ...values.flat().filter((v) => typeof v === 'number'));
  const step = niceStep(top, 4);
  const ymax = Math.ceil(top / step) * step || 1;
  const band = (W - M.left - M.right) / n;
  const x = (i) => M.left + i * band + band / 2;
  const y = (v) => H - M.bottom - (v / ymax) * (H - M.top - M.bottom);
  const g = svg('g');
  yAxis(g, ymax, y, fmt);
  series.forEach((s, k) => {
    let run = [];
    const flush = () => {
      if (run.length === 1) g.append(svg('circle', { cx: run[0][0], cy: run[0][1], r: 3, class: `dot ${s.cls}` }));
      if (run.length > 1) g.append(svg('polyline', { points: run.map((p) => p.join(',')).join(' '), class: `line ${s.cls}` }));
      run = [];
    };
    values[k].forEach((v, i) => {
      if (typeof v === 'number') run.push([x(i).toFixed(1), y(v).toFixed(1)]);
      else flush();
    });
    flush();
  });
  xLabels(g, buckets, by, (i) => M.left + i * band, band);
  g.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: 'axis-line' }));
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot' }, g);
}

/** Horizontal bars of a breakdown: largest first; a hidden count has no bar. */
function barsBy(dim, breakdown, cls) {
  const entries = Object.entries(breakdown || {}).sort((a, b) => (b[1] ?? -1) - (a[1] ?? -1) || a[0].localeCompare(b[0]));
  const rowH = 34;
  const labelW = 300;
  const h = Math.max(1, entries.length) * rowH + 8;
  const top = Math.max(1, ...entries.map(([, v]) => v || 0));
  const g = svg('g');
  entries.forEach(([value, n], i) => {
    const y = 4 + i * rowH;
    const name = label(dim, value);
    const text = svg('text', { x: labelW - 8, y: y + rowH / 2 + 5, 'text-anchor': 'end', class: 'axis' });
    // A long name is cut to fit; the table under the chart has it whole.
    const whole = name.textContent;
    text.textContent = whole.length > 34 ? whole.slice(0, 33) + '…' : whole;
    for (const a of ['data-t', 'data-value', 'data-reg']) if (name.hasAttribute(a)) text.setAttribute(a, name.getAttribute(a));
    g.append(text);
    const w = n ? ((W - labelW - 90) * n) / top : 0;
    if (w > 0) g.append(svg('rect', { x: labelW, y: y + 6, width: Math.max(1, w), height: rowH - 12, class: `bar ${cls}` }));
    const v = svg('text', { x: labelW + w + 6, y: y + rowH / 2 + 5, class: 'axis' });
    v.textContent = countText(n);
    if (n === null || n === undefined) v.setAttribute('data-t', 'a.suppressed');
    else v.dataset.value = '';
    g.append(v);
  });
  const chart = svg('svg', { viewBox: `0 0 ${W} ${h}`, class: 'plot plot-bars' }, g);
  const rows = entries.map(([value, n]) => [el('td', {}, label(dim, value)), countNode('td', n, { class: 'num' })]);
  return { chart, table: table(['a.col.what', 'a.col.count'], rows), empty: entries.length === 0 };
}

/** A table of series over time. */
function seriesTable(buckets, by, series, fmt = countNode) {
  const rows = buckets.map((b) => [el('td', {}, dataSpan(bucketText(b.start, by, false))),
    ...series.map((s) => fmt('td', s.value(b), { class: 'num' }))]);
  return table(['a.col.period', ...series.map((s) => s.key)], rows);
}

function msNode(tag, v, attrs = {}) {
  const e = el(tag, attrs);
  if (v === null || v === undefined) setT(e, 'a.latency.none');
  else e.append(dataSpan(msFormat.format(v)));
  return e;
}

// ---- the page ----

function show(st) {
  last = st;
  $('stats-error').hidden = true;
  const { buckets, totals, by } = st;
  const v = totals.verifications;
  setNodes($('stats-status'), 'a.summary', {
    n: countNode('span', v.total),
    from: dataSpan(bucketText(st.from, by, false)),
    to: dataSpan(bucketText(new Date(Date.parse(st.to) - 1).toISOString(), by, false)),
    s: dataSpan(num(st.suppressed_cells)),
  });

  // Key figures of the period.
  const figures = [
    ['a.fig.verifications', v.total], ['a.fig.valid', (v.by_outcome || {}).valid], ['a.fig.failed', (v.by_outcome || {}).failed],
    ['a.fig.issuance', totals.issuance.total], ['a.fig.revocation', totals.revocation.total], ['a.fig.enrolment', totals.enrolment.total],
  ];
  $('figures').replaceChildren(el('dl', { class: 'figure-list' }, figures.map(([k, n]) =>
    el('div', { class: 'figure' }, el('dt', { 'data-t': k }, t(k)), countNode('dd', n === undefined ? 0 : n)))));

  const charts = [];
  const present = (m, k) => (k in (m || {}) ? m[k] : 0);
  const ver = [
    { key: 'a.series.valid', cls: 'c-valid', value: (b) => present(b.verifications.by_outcome, 'valid') },
    { key: 'a.series.failed', cls: 'c-failed', value: (b) => present(b.verifications.by_outcome, 'failed') },
  ];
  const all = { key: 'a.series.total', cls: 'c-total', value: (b) => b.verifications.total };
  const verChart = barsOverTime(buckets, by, ver, all);
  const f1 = figure('chart-verifications', 'a.chart.verifications', 'a.chart.verifications.alt', verChart,
    seriesTable(buckets, by, [...ver, all]));
  f1.insertBefore(legend([...ver, all]), f1.querySelector('details'));
  charts.push(f1);

  const ev = [
    { key: 'a.series.issuance', cls: 'c-issuance', value: (b) => b.issuance.total },
    { key: 'a.series.revocation', cls: 'c-revocation', value: (b) => b.revocation.total },
    { key: 'a.series.suspension', cls: 'c-suspension', value: (b) => b.suspension.total },
    { key: 'a.series.reinstatement', cls: 'c-reinstatement', value: (b) => b.reinstatement.total },
    { key: 'a.series.enrolment', cls: 'c-enrolment', value: (b) => b.enrolment.total },
  ];
  const f2 = figure('chart-events', 'a.chart.events', 'a.chart.events.alt', linesOverTime(buckets, by, ev), seriesTable(buckets, by, ev));
  f2.insertBefore(legend(ev), f2.querySelector('details'));
  charts.push(f2);

  for (const [id, dim, key, cls, m] of [
    ['chart-types', 'type', 'a.chart.types', 'c-valid', v.by_type],
    ['chart-flows', 'flow', 'a.chart.flows', 'c-flow', v.by_flow],
    ['chart-categories', 'category', 'a.chart.categories', 'c-category', v.by_category],
    ['chart-reasons', 'reason', 'a.chart.reasons', 'c-failed', v.by_reason],
  ]) {
    const b = barsBy(dim, m, cls);
    const f = figure(id, key, key + '.alt', b.chart, b.table);
    if (b.empty) f.insertBefore(el('p', { class: 'hint', 'data-t': 'a.chart.empty' }, t('a.chart.empty')), f.querySelector('svg'));
    charts.push(f);
  }

  const lat = [
    { key: 'a.series.p50', cls: 'c-p50', value: (b) => b.verifications.latency.p50_ms },
    { key: 'a.series.p99', cls: 'c-p99', value: (b) => b.verifications.latency.p99_ms },
  ];
  const f3 = figure('chart-latency', 'a.chart.latency', 'a.chart.latency.alt', linesOverTime(buckets, by, lat, (x) => msFormat.format(x)),
    seriesTable(buckets, by, lat, msNode), 'a.chart.latency.note');
  f3.insertBefore(legend(lat), f3.querySelector('details'));
  const overall = el('p', { class: 'latency-total' });
  setNodes(overall, 'a.latency.period', { p50: msNode('span', totals.verifications.latency.p50_ms), p99: msNode('span', totals.verifications.latency.p99_ms) });
  f3.insertBefore(overall, f3.querySelector('svg'));
  charts.push(f3);

  $('charts').replaceChildren(...charts);
  document.body.dataset.drawn = String(Date.now());
}

async function init() {
  applyPage();
  await loadTypes();
  defaultRange();
  $('signin-form').addEventListener('submit', signIn);
  $('range-form').addEventListener('submit', load);
  $('csv').addEventListener('click', downloadCSV);
  $('sign-out').addEventListener('click', () => signedOut(''));
  if (token()) {
    $('sign-out').hidden = false;
    go('stats-view');
    load();
  } else {
    signedOut('');
  }
}

init();
