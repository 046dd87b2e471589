// The jobs table shared by the jobs page and the group page: one row per job, updated in place
// from the event stream (a Map from id to row, so an update touches one row whatever the table's
// size). At phone width the CSS shows each row as a card, using each cell's data-label.

import { formatDuration, h, jobDuration, labelList, stateBadge, timeElement } from './dom.js';

const STATE_RANK = { queued: 0, running: 1, cancelling: 2 };

/** Orders a job's versions: a later attempt, or a later state of the same attempt, is newer. */
function rank(job) {
  return (job.attempt || 1) * 10 + (STATE_RANK[job.state] ?? 3);
}

/** True when `a` comes before `b` in the server's list order: newest `created_at` first, then id. */
function isNewer(a, b) {
  const ta = Date.parse(a.created_at), tb = Date.parse(b.created_at);
  return ta !== tb ? ta > tb : a.id > b.id;
}

const COLUMNS = [
  ['id', 'ID'], ['name', 'Name'], ['state', 'State'], ['labels', 'Labels'],
  ['node', 'Node'], ['created', 'Created'], ['duration', 'Duration'],
];

export class JobTable {
  constructor(caption) {
    this.rows = new Map();
    this.body = h('tbody');
    this.empty = h('tr', { class: 'empty' }, h('td', { colspan: COLUMNS.length }, 'No jobs.'));
    this.table = h('table', { class: 'jobs' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, COLUMNS.map(([key, title]) => h('th', { scope: 'col', class: `col-${key}` }, title)))),
      this.body);
    this.element = h('div', { class: 'table-wrap' }, this.table);
    this.body.append(this.empty);
  }

  get size() { return this.rows.size; }

  has(id) { return this.rows.has(id); }

  /** Replaces every row with `jobs` (in the order given). */
  setJobs(jobs) {
    this.rows.clear();
    this.body.replaceChildren();
    for (const job of jobs) {
      const row = this.makeRow(job);
      this.body.append(row.tr);
    }
    this.refreshShape();
  }

  /**
   * Updates the job's row when it is there and this version is not older than the one shown.
   * With `insert`, a job not shown yet gets a row, placed by id (newest first). True when the
   * table changed.
   */
  upsert(job, insert = false) {
    const row = this.rows.get(job.id);
    if (row) {
      if (rank(job) < rank(row.job)) return false;
      row.job = job;
      this.fill(row);
      return true;
    }
    if (!insert) return false;
    const made = this.makeRow(job);
    let before = this.body.firstElementChild;
    while (before && before.dataset.id && isNewer(this.rows.get(before.dataset.id).job, job)) before = before.nextElementSibling;
    this.body.insertBefore(made.tr, before && before.dataset.id ? before : null);
    this.refreshShape();
    return true;
  }

  /** Re-renders the durations of running jobs (call once a second). */
  tick() {
    const now = Date.now();
    for (const row of this.rows.values()) {
      if (!row.job.finished_at && row.job.started_at) row.cells.duration.textContent = formatDuration(jobDuration(row.job, now));
    }
  }

  makeRow(job) {
    const cells = {};
    const tr = h('tr', {}, COLUMNS.map(([key, title]) => {
      cells[key] = h('td', { class: `col-${key}`, 'data-label': title });
      return cells[key];
    }));
    const row = { job, tr, cells };
    this.rows.set(job.id, row);
    this.fill(row);
    return row;
  }

  fill(row) {
    const { job, tr, cells } = row;
    tr.dataset.id = job.id;
    tr.dataset.state = job.state;
    cells.id.replaceChildren(h('a', { href: `#/jobs/${job.id}`, class: 'mono' }, job.id));
    cells.name.replaceChildren(job.name || h('span', { class: 'muted' }, '—'));
    cells.state.replaceChildren(stateBadge(job.state));
    cells.labels.replaceChildren(labelList(job.labels));
    cells.node.textContent = job.node || '—';
    cells.created.replaceChildren(timeElement(job.created_at));
    cells.duration.textContent = formatDuration(jobDuration(job));
    if (job.node) this.table.classList.add('with-node');
  }

  refreshShape() {
    if (this.rows.size === 0) this.body.replaceChildren(this.empty);
    else this.empty.remove();
  }
}
