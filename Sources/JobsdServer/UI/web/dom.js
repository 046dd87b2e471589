// Small DOM and formatting helpers. Elements are built with createElement and textContent only
// (never innerHTML), so job names, labels and output can never inject markup.

/** h('a', {href: '#', class: 'x'}, 'text', child…): an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

export const TERMINAL_STATES = ['succeeded', 'failed', 'timed_out', 'cancelled'];
export const ALL_STATES = ['queued', 'running', 'cancelling', ...TERMINAL_STATES];
export const isTerminal = (state) => TERMINAL_STATES.includes(state);

/** A state as coloured text (the colour is never the only signal). */
export function stateBadge(state) {
  return h('span', { class: `state state-${state}` }, state.replace('_', ' '));
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** "2026-12-07 05:12:03" in the viewer's zone. */
export function localTime(date, withMillis = false) {
  const text = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return withMillis ? `${text}.${pad(date.getMilliseconds(), 3)}` : text;
}

/** A <time> showing the local time, with the UTC value on hover (title) and in datetime. */
export function timeElement(iso, withMillis = false) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  return h('time', { datetime: iso, title: `${iso.replace('T', ' ').replace('Z', '')} UTC` }, localTime(date, withMillis));
}

/** 123 ms, 4.2 s, 3 m 05 s, 2 h 03 m. */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} m`;
}

/** How long a job ran (or has been running), in ms; NaN when it never started. */
export function jobDuration(job, now = Date.now()) {
  if (!job.started_at) return NaN;
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  return end - Date.parse(job.started_at);
}

/** Labels as "key=value" chips. */
export function labelList(labels) {
  const entries = Object.entries(labels || {});
  if (entries.length === 0) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: 'labels' }, entries.map(([k, v]) => h('li', {}, `${k}=${v}`)));
}

/** argv as a command line a shell would split back into the same words. */
export function quoteArgv(argv) {
  return (argv || []).map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ');
}

/** The hash route's query ("#/jobs?state=running") as URLSearchParams. */
export function hashQuery() {
  const index = location.hash.indexOf('?');
  return new URLSearchParams(index < 0 ? '' : location.hash.slice(index + 1));
}

/** A message area: set(text, kind) shows it, set('') hides it. */
export function messageArea(attributes = {}) {
  const element = h('p', { class: 'message', ...attributes });
  element.hidden = true;
  return {
    element,
    set(text, kind = 'info', ...children) {
      element.replaceChildren(text, ...children);
      element.className = `message ${kind}`;
      element.hidden = !text && children.length === 0;
    },
  };
}

/**
 * A danger button that asks before acting: clicking it shows `question` with a confirm button
 * (focused) and a keep button; confirming calls `onConfirm()`. Ids: `id`, `id-confirm`, `id-keep`.
 */
export function confirmButton({ id, label, question, confirmLabel, onConfirm }) {
  const area = h('span', { class: 'confirm-area' });
  const showButton = () => area.replaceChildren(h('button', { type: 'button', class: 'danger', id, onclick: ask }, label));
  function ask() {
    const yes = h('button', { type: 'button', class: 'danger', id: `${id}-confirm`, onclick: () => { showButton(); onConfirm(); } }, confirmLabel);
    const keep = h('button', { type: 'button', id: `${id}-keep`, onclick: () => { showButton(); area.firstElementChild.focus(); } }, 'Keep running');
    area.replaceChildren(h('span', { class: 'confirm', role: 'group', 'aria-label': label }, question, ' ', yes, ' ', keep));
    yes.focus();
  }
  showButton();
  return area;
}

/**
 * The head of a job or group page: a back link, the title (the id until the record is read),
 * a slot for the state badge, one for the cancel button, and a message area. `nodes` go first
 * in <main>.
 */
export function recordHead(id, backHref, backText) {
  const head = {
    title: h('h1', {}, h('span', { class: 'mono' }, id)),
    badge: h('span', { class: 'badge-slot' }),
    cancelArea: h('div', { class: 'cancel-area' }),
    message: messageArea({ role: 'alert' }),
  };
  head.nodes = [
    h('p', { class: 'crumbs' }, h('a', { href: backHref }, backText)),
    h('div', { class: 'job-head' }, head.title, head.badge, head.cancelArea),
    head.message.element,
  ];
  return head;
}
