// The jobs page (#/jobs?state=…&label=k:v&limit=N&cursor=…): filters, the submit form and the
// table, kept live by /v1/events. The filters live in the URL's fragment, so a filtered view can
// be bookmarked; the token never goes there.
//
// Live updates without a gap: the list is (re)loaded only after the event stream is open (and
// again after a 410), so every change after the snapshot arrives as an event; events that arrive
// while the list loads are applied after it, and an older version of a job never replaces a
// newer one (JobTable.upsert). A reconnect resumes with Last-Event-ID and needs no reload.

import { describeError, getJSON } from './api.js';
import { EventStream } from './events.js';
import { ALL_STATES, h, hashQuery, messageArea } from './dom.js';
import { JobTable } from './job-table.js';
import { submitForm } from './submit-form.js';

const PAGE_SIZES = [50, 100, 500, 1000];
const STATE_CHOICES = [['', 'any state'], ['active', 'active (queued, running, cancelling)'], ...ALL_STATES.map((s) => [s, s.replace('_', ' ')])];

export function jobsPage(main, setLive) {
  const query = hashQuery();
  const stateChoice = query.get('state') || '';
  const states = stateChoice === 'active' ? ['queued', 'running', 'cancelling'] : (stateChoice ? [stateChoice] : []);
  const labels = query.getAll('label');
  const limit = PAGE_SIZES.includes(Number(query.get('limit'))) ? Number(query.get('limit')) : 100;
  const cursor = query.get('cursor');

  const table = new JobTable('Jobs, newest first');
  const message = messageArea({ role: 'alert' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const count = h('p', { class: 'count' });

  const labelInput = h('input', { id: 'filter-label', name: 'label', type: 'text', value: labels.join(' '), placeholder: 'team:data', autocomplete: 'off', spellcheck: 'false' });
  const stateSelect = h('select', { id: 'filter-state', name: 'state' },
    STATE_CHOICES.map(([value, text]) => h('option', { value, selected: value === stateChoice }, text)));
  const limitSelect = h('select', { id: 'filter-limit', name: 'limit' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === limit }, String(n))));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    h('div', { class: 'field' }, h('label', { for: 'filter-state' }, 'State'), stateSelect),
    h('div', { class: 'field' }, h('label', { for: 'filter-label' }, 'Labels (key:value, all must match)'), labelInput),
    h('div', { class: 'field' }, h('label', { for: 'filter-limit' }, 'Per page'), limitSelect),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply')));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = labelInput.value.split(/\s+/).filter(Boolean);
    const bad = wanted.find((l) => !l.includes(':'));
    if (bad) { message.set(`Label filter "${bad}": write key:value`, 'error'); labelInput.focus(); return; }
    const next = new URLSearchParams();
    if (stateSelect.value) next.set('state', stateSelect.value);
    for (const l of wanted) next.append('label', l);
    if (Number(limitSelect.value) !== 100) next.set('limit', limitSelect.value);
    location.hash = `#/jobs?${next}`;
  });

  const form = submitForm((job) => { if (!cursor && matches(job)) table.upsert(job, true); });
  main.replaceChildren(
    h('h1', {}, 'Jobs'),
    h('div', { class: 'jobs-layout' },
      h('section', { class: 'jobs-list', 'aria-labelledby': 'list-title' },
        h('h2', { id: 'list-title', class: 'visually-hidden' }, 'Job list'),
        filters, message.element, count, table.element, pager),
      // Open beside the table on wide screens; above it, folded, on narrow ones.
      h('details', { class: 'panel submit-panel', open: matchMedia('(min-width: 1001px)').matches },
        h('summary', {}, h('h2', { id: 'submit-title' }, 'Submit a job')), form)));

  function matches(job) {
    if (states.length > 0 && !states.includes(job.state)) return false;
    return labels.every((l) => {
      const colon = l.indexOf(':');
      return job.labels?.[l.slice(0, colon)] === l.slice(colon + 1);
    });
  }

  function listPath() {
    const q = new URLSearchParams();
    for (const s of states) q.append('state', s);
    for (const l of labels) q.append('label', l);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    return `/v1/jobs?${q}`;
  }

  function pagerLinks(nextCursor) {
    const base = new URLSearchParams(query);
    base.delete('cursor');
    const links = [];
    if (cursor) links.push(h('a', { href: `#/jobs?${base}` }, '← Newest'));
    if (nextCursor) {
      const older = new URLSearchParams(base);
      older.set('cursor', nextCursor);
      links.push(h('a', { href: `#/jobs?${older}`, rel: 'next' }, 'Older →'));
    }
    pager.replaceChildren(...links);
  }

  let loaded = false;
  let buffered = [];
  let loading = null;
  async function load() {
    loaded = false;
    const generation = (loading = {});
    try {
      const page = await getJSON(listPath());
      if (loading !== generation) return;
      table.setJobs(page.jobs);
      pagerLinks(page.next_cursor);
      message.set('');
    } catch (error) {
      if (loading !== generation) return;
      message.set(describeError(error), 'error');
    }
    loaded = true;
    const pending = buffered;
    buffered = [];
    for (const job of pending) apply(job);
    count.textContent = `${table.size} job${table.size === 1 ? '' : 's'} shown`;
  }

  function apply(job) {
    if (!loaded) { buffered.push(job); return; }
    if (table.upsert(job, !cursor && matches(job))) count.textContent = `${table.size} job${table.size === 1 ? '' : 's'} shown`;
  }

  const streamQuery = new URLSearchParams();
  for (const l of labels) streamQuery.append('label', l);
  let everOpened = false;
  const stream = new EventStream(`/v1/events${labels.length ? `?${streamQuery}` : ''}`, {
    onEvent: (event) => apply(event.data),
    onOpen: () => { if (!everOpened || !stream.lastEventId) load(); everOpened = true; },
    onGone: () => load(),
    onStatus: (status) => {
      setLive(status);
      if (!everOpened && !loaded && !loading) load();
    },
  }).start();
  const ticker = setInterval(() => table.tick(), 1000);

  return () => { stream.stop(); clearInterval(ticker); };
}
