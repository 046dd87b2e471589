// The "Submit a job" form: a command line (split into argv like a shell splits words; no shell
// runs it), name, env and labels as KEY=value lines, timeout and grace in seconds. Input the page
// can check itself is refused before sending; anything else goes to jobsd, and a 4xx shows the
// server's problem (title, detail, field) with the field marked — nothing is created then.

import { ApiError, describeError, json } from './api.js';
import { ParseError, parseAssignments, splitWords } from './argv.js';
import { h, messageArea } from './dom.js';

const FIELDS = [
  { id: 'command', label: 'Command', api: 'command', hint: 'Split into words like a shell does (quotes respected). No shell runs it: for pipes or $VARS write sh -c \'…\'.' },
  { id: 'name', label: 'Name (optional)', api: 'name' },
  { id: 'env', label: 'Environment (KEY=value per line)', api: 'env', multiline: true },
  { id: 'labels', label: 'Labels (key=value per line)', api: 'labels', multiline: true },
  { id: 'timeout', label: 'Timeout (seconds)', api: 'timeout_seconds', number: true, hint: 'Empty: the server default.' },
  { id: 'grace', label: 'Grace (seconds)', api: 'grace_seconds', number: true, hint: 'SIGTERM → SIGKILL delay. Empty: the server default.' },
];

/** The form; `onCreated(job)` runs after a 201. */
export function submitForm(onCreated) {
  const inputs = {};
  const message = messageArea({ role: 'alert', id: 'submit-message' });
  const rows = FIELDS.map((field) => {
    const inputId = `submit-${field.id}`;
    const attributes = { id: inputId, name: field.id, autocomplete: 'off', spellcheck: 'false' };
    if (field.hint) attributes['aria-describedby'] = `${inputId}-hint`;
    let input;
    if (field.multiline) input = h('textarea', { ...attributes, rows: 2 });
    else input = h('input', { ...attributes, type: 'text', inputmode: field.number ? 'decimal' : null, required: field.id === 'command' });
    inputs[field.id] = input;
    return h('div', { class: 'field' },
      h('label', { for: inputId }, field.label),
      input,
      field.hint ? h('p', { class: 'hint', id: `${inputId}-hint` }, field.hint) : null);
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Submit job');
  const form = h('form', { class: 'submit-form', id: 'submit-form', novalidate: true, 'aria-label': 'Submit a job' },
    rows, h('div', { class: 'actions' }, button), message.element);

  function markInvalid(fieldId) {
    for (const [id, input] of Object.entries(inputs)) input.toggleAttribute('aria-invalid', id === fieldId);
    if (fieldId) inputs[fieldId].focus();
  }

  function spec() {
    let command;
    try { command = splitWords(inputs.command.value); } catch (error) {
      throw Object.assign(new ParseError(`Command: ${error.message}`), { field: 'command' });
    }
    if (command.length === 0) throw Object.assign(new ParseError('Command: write the program to run, e.g. echo hello'), { field: 'command' });
    const body = { command };
    if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
    for (const [id, what] of [['env', 'Environment'], ['labels', 'Labels']]) {
      try {
        const values = parseAssignments(inputs[id].value, what);
        if (Object.keys(values).length > 0) body[id] = values;
      } catch (error) { throw Object.assign(error, { field: id }); }
    }
    for (const field of FIELDS.filter((f) => f.number)) {
      const text = inputs[field.id].value.trim();
      if (text === '') continue;
      const value = Number(text);
      if (!Number.isFinite(value)) throw Object.assign(new ParseError(`${field.label}: "${text}" is not a number`), { field: field.id });
      body[field.api] = value;
    }
    return body;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = spec();
    } catch (error) {
      markInvalid(error.field);
      message.set(error.message, 'error');
      return;
    }
    button.disabled = true;
    message.set('Submitting…', 'info');
    try {
      const { body: job } = await json('POST', '/v1/jobs', { body });
      markInvalid(null);
      message.set('Created ', 'success', h('a', { href: `#/jobs/${job.id}`, class: 'mono' }, job.id), '.');
      onCreated(job);
    } catch (error) {
      const apiField = error instanceof ApiError ? String(error.problem.field || '') : '';
      const field = FIELDS.find((f) => apiField === f.api || apiField.startsWith(`${f.api}.`) || apiField.startsWith(`${f.api}[`));
      markInvalid(field ? field.id : null);
      message.set(describeError(error), 'error');
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
