// The page's entry point: the hash router (#/jobs, #/jobs/ID, #/groups, #/groups/ID), the
// live-connection indicator and the token dialog. Each page is a function that fills <main> and
// returns a function that stops its streams and timers when another page replaces it.

import { setTokenPrompt } from './api.js';
import { groupPage, groupsPage } from './groups-page.js';
import { jobPage } from './job-page.js';
import { jobsPage } from './jobs-page.js';

const main = document.getElementById('main');
const live = document.getElementById('live');

function setLive(status) {
  live.textContent = status === 'live' ? '● live' : status;
  live.className = `live ${status === 'live' ? 'on' : 'off'}`;
}

// MARK: token dialog

const dialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');
let resolveToken = null;

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) { tokenError.textContent = 'Enter the token jobsd was started with.'; return; }
  dialog.close();
  tokenInput.value = '';
  resolveToken?.(token);
  resolveToken = null;
});
// Escape must not leave every API call waiting on a dialog that is gone.
dialog.addEventListener('cancel', (event) => event.preventDefault());

setTokenPrompt((message) => new Promise((resolve) => {
  resolveToken = resolve;
  tokenError.textContent = message;
  if (!dialog.open) dialog.showModal();
  tokenInput.focus();
}));

// MARK: router

let stopPage = null;

function route() {
  stopPage?.();
  const path = location.hash.replace(/^#/, '').split('?')[0] || '/jobs';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === parts[0]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = 'jobsd';
  if (parts[0] === 'jobs' && parts[1]) stopPage = jobPage(main, setLive, parts[1]);
  else if (parts[0] === 'groups' && parts[1]) stopPage = groupPage(main, setLive, parts[1]);
  else if (parts[0] === 'groups') stopPage = groupsPage(main, setLive);
  else stopPage = jobsPage(main, setLive);
}

// The skip link focuses <main> without touching the hash (the hash is the router's).
document.querySelector('.skip').addEventListener('click', (event) => { event.preventDefault(); main.focus(); });
window.addEventListener('hashchange', () => { route(); main.focus({ preventScroll: true }); });
route();
