// The termination timeline (GET /v1/jobs/{id}/events) drawn as a time bar: coloured phases
// (queued, running, stopping, cleanup), a marker per event (signals, kill, exit, cleanup and
// end labelled), and below it the full list of events with their local time (UTC on hover) and
// their offset from the first event. The list is the accessible form of the bar.

import { formatDuration, h, isTerminal, localTime } from './dom.js';

/** The phase a job is in after each event type (undefined: the phase does not change). */
const PHASE_AFTER = {
  submitted: 'queued', scheduled: 'queued', retry_scheduled: 'queued', started: 'running',
  cancel_requested: 'stopping', deadline_reached: 'stopping', exited: 'ending', leftovers_killed: 'ending',
  cleanup_started: 'cleanup', cleanup_finished: 'ending', spawn_failed: 'ending', interrupted: 'ending', finished: null,
};

const PHASE_NAMES = { queued: 'queued', running: 'running', stopping: 'stopping (signals sent)', ending: 'finishing', cleanup: 'cleanup' };

function markerLabel(event) {
  switch (event.type) {
    case 'started': return 'start';
    case 'signal_sent': return event.signal || 'signal';
    case 'exited': return event.signal ? `exit ${event.signal}` : `exit ${event.exit_code ?? ''}`.trim();
    case 'cancel_requested': return 'cancel';
    case 'deadline_reached': return 'deadline';
    case 'leftovers_killed': return 'leftovers';
    case 'cleanup_started': return 'cleanup';
    case 'cleanup_finished': return 'cleanup done';
    case 'finished': return event.state || 'end';
    default: return null;
  }
}

function markerClass(event) {
  if (event.type === 'signal_sent') return event.signal === 'SIGKILL' ? 'mark-kill' : 'mark-term';
  if (event.type.startsWith('cleanup')) return 'mark-cleanup';
  if (event.type === 'exited' || event.type === 'finished') return 'mark-end';
  if (event.type === 'cancel_requested' || event.type === 'deadline_reached') return 'mark-cancel';
  return 'mark-plain';
}

/** What the event says beyond its type, as one line. */
function details(event) {
  const skip = new Set(['seq', 'at', 'type']);
  return Object.entries(event).filter(([k, v]) => !skip.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
}

export function renderTimeline(container, events, job) {
  if (!events || events.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, 'No events yet.'));
    return;
  }
  const t0 = Date.parse(events[0].at);
  const last = Date.parse(events[events.length - 1].at);
  const end = job && !isTerminal(job.state) ? Math.max(last, Date.now()) : last;
  const span = Math.max(end - t0, 1);
  const percent = (t) => `${((t - t0) / span) * 100}%`;

  const bar = h('div', { class: 'bar', 'aria-hidden': 'true' });
  let phase = null;
  let phaseStart = t0;
  const closePhase = (t) => {
    if (!phase) return;
    const segment = h('div', { class: `phase phase-${phase}`, title: `${PHASE_NAMES[phase]}: ${formatDuration(t - phaseStart)}` });
    segment.style.left = percent(phaseStart);
    segment.style.width = `${((t - phaseStart) / span) * 100}%`;
    bar.append(segment);
  };
  // One label per cluster of markers closer than 6% of the bar ("exit SIGKILL · cleanup · end"),
  // stacked in up to three lanes when clusters are near each other.
  const clusters = [];
  for (const event of events) {
    const t = Date.parse(event.at);
    if (event.type in PHASE_AFTER) {
      const next = PHASE_AFTER[event.type];
      if (next !== phase) { closePhase(t); phase = next; phaseStart = t; }
    }
    const label = markerLabel(event);
    if (label === null) continue;
    const x = ((t - t0) / span) * 100;
    const marker = h('div', { class: `marker ${markerClass(event)}`, title: `${event.type} at +${formatDuration(t - t0)}` });
    marker.style.left = percent(t);
    bar.append(marker);
    const last = clusters[clusters.length - 1];
    if (last && x - last.x < 6) {
      last.labels.push(label);
    } else {
      clusters.push({ x, labels: [label], marker });
    }
  }
  const lanes = [-Infinity, -Infinity, -Infinity];
  for (const cluster of clusters) {
    let lane = lanes.findIndex((previous) => cluster.x - previous >= 16);
    if (lane < 0) lane = lanes.indexOf(Math.min(...lanes));
    lanes[lane] = cluster.x;
    cluster.marker.classList.add(`lane-${lane}`);
    if (cluster.x > 70) cluster.marker.classList.add('flip');
    cluster.marker.append(h('span', { class: 'marker-label' }, cluster.labels.join(' · ')));
  }
  closePhase(end);

  const legend = h('ul', { class: 'phase-legend' },
    Object.entries(PHASE_NAMES).map(([key, name]) => h('li', {}, h('span', { class: `swatch phase-${key}` }), name)));
  const axis = h('div', { class: 'axis', 'aria-hidden': 'true' }, h('span', {}, '0'), h('span', {}, `+${formatDuration(end - t0)}`));
  const list = h('ol', { class: 'events' }, events.map((event) => {
    const t = Date.parse(event.at);
    return h('li', { 'data-type': event.type, class: markerClass(event) },
      h('span', { class: 'offset' }, `+${((t - t0) / 1000).toFixed(3)} s`),
      h('time', { datetime: event.at, title: `${event.at.replace('T', ' ').replace('Z', '')} UTC` }, localTime(new Date(t), true)),
      h('strong', {}, event.type),
      details(event) ? h('span', { class: 'details' }, details(event)) : null);
  }));
  container.replaceChildren(h('div', { class: 'bar-wrap' }, bar, axis), legend, list);
}
