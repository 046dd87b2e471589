// The job page (#/jobs/ID): every field, the termination timeline, the live log tail and a
// Cancel button (asks to confirm, then DELETE; the state shows cancelling → cancelled as the
// events arrive). Live from /v1/events?job=ID; the job is re-read each time the stream (re)opens.
//
// The log tail follows stdout and stderr as two streams (GET …/logs?stream=…&follow=true) and
// appends each chunk as it arrives, stderr marked: live output is interleaved in arrival order;
// what was written before the page opened shows stdout's part first, then stderr's.

import { describeError, getJSON, json, request } from './api.js';
import { EventStream } from './events.js';
import {
  confirmButton, formatDuration, h, isTerminal, jobDuration, labelList, quoteArgv, recordHead, stateBadge, timeElement,
} from './dom.js';
import { renderTimeline } from './timeline.js';

const MAX_LOG_CHARS = 2_000_000;

export function jobPage(main, setLive, id) {
  let job = null;
  const { title, badge, cancelArea, message, nodes } = recordHead(id, '#/jobs', '← Jobs');
  const fields = h('dl', { class: 'fields' });
  const timeline = h('div', { class: 'timeline', id: 'timeline' });
  const logView = h('pre', { class: 'log', id: 'log', tabindex: '0', 'aria-label': 'Output', 'aria-live': 'off' });
  const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
  const logStatus = h('span', { class: 'muted', role: 'status' });

  main.replaceChildren(
    ...nodes,
    h('section', { 'aria-labelledby': 'fields-title' }, h('h2', { id: 'fields-title' }, 'Details'), fields),
    h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline),
    h('section', { 'aria-labelledby': 'log-title' },
      h('div', { class: 'log-head' },
        h('h2', { id: 'log-title' }, 'Output'),
        h('p', { class: 'legend' }, h('span', { class: 'out-mark' }, 'stdout'), ' ', h('span', { class: 'err-mark' }, 'stderr')),
        h('label', { for: 'log-follow', class: 'inline' }, follow, ' Follow'), logStatus),
      logView));

  // MARK: fields and cancel

  function row(term, value) {
    return [h('dt', {}, term), h('dd', {}, value ?? h('span', { class: 'muted' }, '—'))];
  }

  const durationText = h('span', {});
  let cancelRenderedFor = null;
  function renderJob() {
    durationText.textContent = formatDuration(jobDuration(job));
    title.replaceChildren(job.name ? job.name : h('span', { class: 'mono' }, job.id));
    badge.replaceChildren(stateBadge(job.state));
    document.title = `${job.name || job.id} · ${job.state} · jobsd`;
    const cleanup = job.cleanup || {};
    fields.replaceChildren(
      ...row('ID', h('span', { class: 'mono' }, job.id)),
      ...row('State', stateBadge(job.state)),
      ...row('Command', h('code', { class: 'command' }, quoteArgv(job.command))),
      ...row('Name', job.name),
      ...row('Labels', labelList(job.labels)),
      ...(job.group_id ? row('Group', h('a', { href: `#/groups/${job.group_id}`, class: 'mono' }, job.group_id)) : []),
      ...(job.node ? row('Node', job.node) : []),
      ...row('Created', timeElement(job.created_at, true)),
      ...row('Started', timeElement(job.started_at, true)),
      ...row('Finished', timeElement(job.finished_at, true)),
      ...row('Duration', durationText),
      ...(job.run_at ? row('Runs at', timeElement(job.run_at, true)) : []),
      ...(job.max_attempts ? row('Attempt', `${job.attempt} of ${job.max_attempts}`) : []),
      ...row('Timeout', `${job.timeout_seconds} s`),
      ...row('Grace', `${job.grace_seconds} s`),
      ...row('Cancel requested', timeElement(job.cancel_requested_at, true)),
      ...row('PID', job.pid),
      ...row('Exit code', job.exit_code),
      ...row('Signal', job.signal),
      ...row('Error', job.error),
      ...row('Cleanup', [cleanup.state, cleanup.exit_code !== null && cleanup.exit_code !== undefined ? ` (exit ${cleanup.exit_code})` : '', cleanup.error ? ` — ${cleanup.error}` : ''].join('')),
      ...row('Output', `${job.log_bytes ?? 0} bytes`));
    if (cancelRenderedFor !== job.state) renderCancel();
  }

  function renderCancel() {
    cancelRenderedFor = job.state;
    if (isTerminal(job.state)) cancelArea.replaceChildren();
    else if (job.state === 'cancelling') cancelArea.replaceChildren(h('button', { type: 'button', disabled: true, id: 'cancel' }, 'Cancelling…'));
    else {
      cancelArea.replaceChildren(confirmButton({
        id: 'cancel', label: 'Cancel job', confirmLabel: 'Yes, cancel it', onConfirm: cancel,
        question: `Cancel this job? It gets SIGTERM, then SIGKILL after ${job.grace_seconds} s.`,
      }));
    }
  }

  async function cancel() {
    try {
      const { body } = await json('DELETE', `/v1/jobs/${id}`);
      update(body);
    } catch (error) {
      message.set(describeError(error), 'error');
    }
  }

  // MARK: live state and timeline

  let timelineTimer = null;
  let timelineEvents = null;
  async function loadTimeline() {
    timelineTimer = null;
    try {
      const { events } = await getJSON(`/v1/jobs/${id}/events`);
      timelineEvents = events;
      renderTimeline(timeline, events, job);
    } catch (error) {
      timeline.replaceChildren(h('p', { class: 'message error' }, describeError(error)));
    }
  }

  function update(next) {
    if (job && isTerminal(job.state) && !isTerminal(next.state)) return;
    job = next;
    renderJob();
    if (!timelineTimer) timelineTimer = setTimeout(loadTimeline, 150);
  }

  async function loadJob() {
    try {
      update(await getJSON(`/v1/jobs/${id}`));
      message.set('');
    } catch (error) {
      message.set(describeError(error), 'error');
    }
  }

  const stream = new EventStream(`/v1/events?job=${encodeURIComponent(id)}`, {
    onEvent: (event) => update(event.data),
    onOpen: () => loadJob(),
    onGone: () => loadJob(),
    onStatus: (status) => { setLive(status); if (!job) loadJob(); },
  }).start();
  // While the job runs, its duration and the timeline's "now" end move on.
  const ticker = setInterval(() => {
    if (!job || isTerminal(job.state)) return;
    if (job.started_at) durationText.textContent = formatDuration(jobDuration(job));
    if (timelineEvents) renderTimeline(timeline, timelineEvents, job);
  }, 1000);

  // MARK: log tail

  const logAbort = new AbortController();
  let logChars = 0;
  let openStreams = 2;
  function appendLog(text, kind) {
    if (!text) return;
    const atBottom = logView.scrollTop + logView.clientHeight >= logView.scrollHeight - 4;
    logView.append(h('span', { class: kind }, text));
    logChars += text.length;
    while (logChars > MAX_LOG_CHARS && logView.firstChild) {
      logChars -= logView.firstChild.textContent.length;
      logView.firstChild.remove();
    }
    if (follow.checked && atBottom) logView.scrollTop = logView.scrollHeight;
  }

  async function tail(streamName) {
    try {
      const response = await request('GET', `/v1/jobs/${id}/logs?stream=${streamName}&follow=true`, { signal: logAbort.signal });
      if (!response.ok) { await response.body?.cancel(); throw new Error(`${response.status}`); }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        appendLog(value, streamName === 'stderr' ? 'err' : 'out');
      }
      openStreams -= 1;
      logStatus.textContent = openStreams === 0 ? 'complete' : 'following…';
      // The output ends when the job is terminal: show its final state even if no event came yet.
      if (openStreams === 0 && !isTerminal(job?.state)) loadJob();
    } catch (error) {
      if (!logAbort.signal.aborted) logStatus.textContent = `output unavailable (${error.message})`;
    }
  }
  logStatus.textContent = 'following…';
  tail('stdout');
  tail('stderr');

  return () => { stream.stop(); logAbort.abort(); clearInterval(ticker); clearTimeout(timelineTimer); };
}
