// Group pages. #/groups lists groups (newest first, paged); #/groups/ID shows one group: its
// state, counts, its jobs (live, as on the jobs page) and a Cancel group button. Both listen to
// /v1/events and re-read the group(s) shortly after a change to one of their jobs.

import { describeError, getJSON, json } from './api.js';
import { EventStream } from './events.js';
import { confirmButton, h, hashQuery, isTerminal, messageArea, recordHead, stateBadge, timeElement } from './dom.js';
import { JobTable } from './job-table.js';

const SHOWN_JOBS = 200;

function countsText(counts) {
  const entries = Object.entries(counts || {}).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([state, n]) => `${n} ${state.replace('_', ' ')}`).join(', ') : '—';
}

/** Calls `fn` once, `ms` after the last of a burst of calls. */
function debounce(fn, ms) {
  let timer = null;
  const call = () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  call.cancel = () => clearTimeout(timer);
  return call;
}

export function groupsPage(main, setLive) {
  const cursor = hashQuery().get('cursor');
  const message = messageArea({ role: 'alert' });
  const body = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  main.replaceChildren(h('h1', {}, 'Groups'), message.element,
    h('div', { class: 'table-wrap' }, h('table', { class: 'groups' },
      h('caption', { class: 'visually-hidden' }, 'Groups, newest first'),
      h('thead', {}, h('tr', {}, ['Group', 'State', 'Jobs', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    pager);

  let loadedOnce = false;
  async function load() {
    loadedOnce = true;
    try {
      const page = await getJSON(`/v1/groups?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      body.replaceChildren(...page.groups.map((g) => h('tr', { 'data-id': g.id, 'data-state': g.state },
        h('td', { 'data-label': 'Group' }, h('a', { href: `#/groups/${g.id}` }, g.name || g.id)),
        h('td', { 'data-label': 'State' }, stateBadge(g.state)),
        h('td', { 'data-label': 'Jobs' }, countsText(g.counts)),
        h('td', { 'data-label': 'Created' }, timeElement(g.created_at)))));
      if (page.groups.length === 0) body.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 4 }, 'No groups.')));
      pager.replaceChildren(...[
        cursor ? h('a', { href: '#/groups' }, '← Newest') : null,
        page.next_cursor ? h('a', { href: `#/groups?cursor=${encodeURIComponent(page.next_cursor)}`, rel: 'next' }, 'Older →') : null,
      ].filter(Boolean));
      message.set('');
    } catch (error) {
      message.set(describeError(error), 'error');
    }
  }
  const reload = debounce(load, 500);
  const stream = new EventStream('/v1/events', {
    onEvent: (event) => { if (event.data.group_id) reload(); },
    onOpen: () => load(),
    onStatus: (status) => { setLive(status); if (!loadedOnce) load(); },
  }).start();
  return () => { stream.stop(); reload.cancel(); };
}

export function groupPage(main, setLive, id) {
  let group = null;
  const { title, badge, cancelArea, message, nodes } = recordHead(id, '#/groups', '← Groups');
  const summary = h('dl', { class: 'fields' });
  const note = h('p', { class: 'muted' });
  const table = new JobTable('Jobs of this group');
  main.replaceChildren(
    ...nodes,
    h('section', { 'aria-labelledby': 'group-summary' }, h('h2', { id: 'group-summary' }, 'Summary'), summary),
    h('section', { 'aria-labelledby': 'group-jobs' }, h('h2', { id: 'group-jobs' }, 'Jobs'), note, table.element));

  function renderCancel() {
    if (isTerminal(group.state)) { cancelArea.replaceChildren(); return; }
    cancelArea.replaceChildren(confirmButton({
      id: 'cancel-group', label: 'Cancel group', confirmLabel: 'Yes, cancel them', onConfirm: cancelGroup,
      question: 'Cancel every unfinished job of this group?',
    }));
  }

  async function cancelGroup() {
    try {
      const { body } = await json('DELETE', `/v1/groups/${id}`);
      render(body);
    } catch (error) {
      message.set(describeError(error), 'error');
    }
  }

  function render(next) {
    const stateChanged = !group || group.state !== next.state;
    group = next;
    title.replaceChildren(group.name || h('span', { class: 'mono' }, group.id));
    badge.replaceChildren(stateBadge(group.state));
    document.title = `${group.name || group.id} · ${group.state} · jobsd`;
    summary.replaceChildren(
      h('dt', {}, 'ID'), h('dd', { class: 'mono' }, group.id),
      h('dt', {}, 'State'), h('dd', {}, stateBadge(group.state)),
      h('dt', {}, 'Jobs'), h('dd', { id: 'group-counts' }, countsText(group.counts)),
      h('dt', {}, 'Fail fast'), h('dd', {}, group.fail_fast ? 'yes: the first failure cancels the rest' : 'no'),
      h('dt', {}, 'Created'), h('dd', {}, timeElement(group.created_at, true)),
      h('dt', {}, 'Finished'), h('dd', {}, timeElement(group.finished_at, true)));
    if (stateChanged) renderCancel();
  }

  async function loadJobs(total) {
    // One request: GET /v1/jobs?group=ID (newest first), as many as one page holds.
    const page = await getJSON(`/v1/jobs?group=${encodeURIComponent(id)}&limit=${SHOWN_JOBS}`);
    note.textContent = total > page.jobs.length ? `The newest ${page.jobs.length} of ${total} jobs.` : '';
    table.setJobs(page.jobs);
  }

  async function load(withJobs) {
    try {
      const next = await getJSON(`/v1/groups/${id}`);
      render(next);
      if (withJobs) await loadJobs((next.jobs || []).length);
      message.set('');
    } catch (error) {
      message.set(describeError(error), 'error');
    }
  }
  const reload = debounce(() => load(false), 300);
  const stream = new EventStream('/v1/events', {
    onEvent: (event) => { if (event.data.group_id === id) { table.upsert(event.data); reload(); } },
    onOpen: () => load(true),
    onStatus: (status) => { setLive(status); if (!group) load(true); },
  }).start();
  const ticker = setInterval(() => table.tick(), 1000);
  return () => { stream.stop(); reload.cancel(); clearInterval(ticker); };
}
