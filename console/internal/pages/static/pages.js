// The console pages' behaviour. No build step and no dependencies: every action calls a Connect procedure
// with Connect's JSON protocol (POST /lightfast.console.v1.<Service>/<Method>, Content-Type
// application/json); the browser sends the __session cookie, and the server checks the Origin.
'use strict';

(function () {
  const body = document.body;
  // The console's own origin (scheme://host[:port] of CONSOLE_PUBLIC_URL), rendered by the server.
  const consoleOrigin = body.dataset.consoleOrigin;

  // call invokes a Connect procedure and returns its JSON answer; it throws an Error with the server's
  // message when the call fails.
  async function call(service, method, request, headers) {
    const res = await fetch('/lightfast.console.v1.' + service + '/' + method, {
      method: 'POST',
      credentials: 'same-origin',
      headers: Object.assign({'Content-Type': 'application/json', 'Connect-Protocol-Version': '1'}, headers || {}),
      body: JSON.stringify(request || {}),
    });
    const text = await res.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch (_) {
      data = {};
    }
    if (!res.ok) {
      // Connect errors are {code, message}; the platform's HTTP errors are {error: {code, message}}.
      const message = data.message || (data.error && data.error.message) || res.statusText || 'request failed';
      const err = new Error(message);
      err.code = data.code || (data.error && data.error.code) || String(res.status);
      throw err;
    }
    return data;
  }

  // showStatus puts a message in the page's status line (textContent: never parsed as markup).
  function showStatus(text, kind) {
    const el = document.getElementById('status');
    if (!el) return;
    el.textContent = text;
    el.dataset.kind = kind || 'info';
    el.hidden = false;
  }

  function onSignOut() {
    document.querySelectorAll('[data-action="sign-out"]').forEach(function (button) {
      button.addEventListener('click', function () {
        document.cookie = '__session=; Path=/; Max-Age=0; SameSite=Lax';
        window.location.assign('/sign-in');
      });
    });
  }

  // --- /sign-in ---------------------------------------------------------------------------------------
  function signInPage() {
    const form = document.getElementById('sign-in');
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      const token = form.elements.token.value.trim();
      if (!token) return;
      try {
        // Check the token before keeping it, with a bearer header (no cookie is involved yet).
        await call('WorkspaceService', 'ListWorkspaces', {}, {'Authorization': 'Bearer ' + token});
      } catch (err) {
        showStatus('That token was not accepted: ' + err.message, 'error');
        return;
      }
      const secure = window.location.protocol === 'https:' ? '; Secure' : '';
      document.cookie = '__session=' + encodeURIComponent(token) + '; Path=/; SameSite=Lax' + secure;
      window.location.assign(form.dataset.next || '/workspaces');
    });
  }

  // --- /connected: the server confirmed the connection (or refused it) under the session; report the result
  // to the window that opened the popup, then close. ------------------------------------------------------
  function connectedPage() {
    const el = document.getElementById('connect-result');
    const result = el.dataset.error
      ? {type: 'connection_error', provider: el.dataset.provider, error: el.dataset.error, message: el.dataset.message}
      : {type: 'connection_complete', provider: el.dataset.provider, installationId: el.dataset.installationId,
        accountLogin: el.dataset.accountLogin};
    if (!window.opener || window.opener.closed) {
      document.getElementById('no-opener').hidden = false;
      return;
    }
    // The exact console origin, never '*': if the opener has navigated elsewhere, nothing is delivered.
    window.opener.postMessage(result, consoleOrigin);
    window.close();
  }

  // --- /workspaces --------------------------------------------------------------------------------------
  function workspacesPage() {
    const form = document.getElementById('create-workspace');
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        const res = await call('WorkspaceService', 'CreateWorkspace', {name: form.elements.name.value.trim()});
        window.location.assign('/workspaces/' + encodeURIComponent(res.workspace.id) + '/sources');
      } catch (err) {
        showStatus('Could not create the workspace: ' + err.message, 'error');
        button.disabled = false;
      }
    });
  }

  // --- /workspaces/:id/sources --------------------------------------------------------------------------
  const terminal = {idle: true, completed: true, failed: true, cancelled: true};

  function enumWord(value, prefix) {
    const word = String(value || '').replace(prefix, '').toLowerCase();
    return word === '' || word === 'unspecified' ? 'idle' : word;
  }

  function sourcesPage() {
    const root = document.getElementById('sources');
    const workspaceId = root.dataset.workspaceId;
    const labels = {github: 'GitHub', vercel: 'Vercel', linear: 'Linear', sentry: 'Sentry'};

    if (window.location.origin !== consoleOrigin) {
      // The popup reports back to CONSOLE_PUBLIC_URL's origin only (e.g. localhost, not 127.0.0.1).
      showStatus('Open this page at ' + consoleOrigin + ': the connect popup reports back only there.', 'error');
    }

    // Results come back from the popup's /connected page. Only a message from the console's own origin
    // counts: any other window can post to this one.
    window.addEventListener('message', function (event) {
      if (event.origin !== consoleOrigin) {
        console.warn('lightfast: ignored a message from another origin', event.origin);
        return;
      }
      const data = event.data;
      if (!data || typeof data !== 'object') return;
      const label = labels[data.provider] || 'The provider';
      if (data.type === 'connection_complete') {
        const account = typeof data.accountLogin === 'string' && data.accountLogin ? ': ' + data.accountLogin : '';
        showStatus(label + ' connected' + account + '.', 'ok');
        reloadWith('connected');
      } else if (data.type === 'connection_error') {
        showStatus(label + ' was not connected: ' + String(data.message || data.error || 'unknown error'), 'error');
      }
    });

    root.querySelectorAll('[data-action="connect"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        // Open the popup inside the click, so popup blockers allow it; point it at the gateway once the
        // authorize URL (with its single-use state) is known.
        const popup = window.open('about:blank', 'lightfast-connect', 'popup,width=640,height=760');
        try {
          const res = await call('ConnectionService', 'GetAuthorizeURL', {provider: button.dataset.providerEnum});
          if (popup) {
            popup.location.href = res.authorizeUrl;
          } else {
            window.location.assign(res.authorizeUrl);
          }
        } catch (err) {
          if (popup) popup.close();
          showStatus('Could not start connecting: ' + err.message, 'error');
        }
      });
    });

    root.querySelectorAll('[data-action="disconnect"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        if (!window.confirm('Disconnect ' + button.dataset.label + '? Its linked resources stop syncing.')) return;
        button.disabled = true;
        try {
          await call('ConnectionService', 'Disconnect', {installationId: button.dataset.installationId});
          reloadWith('disconnected');
        } catch (err) {
          showStatus('Could not disconnect: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('form[data-action="link"]').forEach(function (form) {
      form.addEventListener('submit', async function (event) {
        event.preventDefault();
        const picked = Array.from(form.querySelectorAll('input[name="resource"]:checked:not(:disabled)'))
          .map(function (input) { return JSON.parse(input.dataset.resource); });
        if (picked.length === 0) {
          showStatus('Pick at least one to link.', 'error');
          return;
        }
        const request = {workspaceId: workspaceId, installationId: form.dataset.installationId};
        request[form.dataset.field] = picked;
        if (form.elements.backfill.checked) request.startBackfill = true;
        const button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        try {
          await call('IntegrationService', form.dataset.method, request);
          reloadWith('linked');
        } catch (err) {
          showStatus('Could not link: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('[data-action="backfill"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        const row = button.closest('tr');
        try {
          const res = await call('BackfillService', 'StartBackfill', {integrationId: button.dataset.integrationId});
          updateBackfill(row, res.backfill);
          watchBackfill(row);
        } catch (err) {
          showStatus('Could not start the backfill: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('[data-action="cancel-backfill"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        const row = button.closest('tr');
        try {
          const res = await call('BackfillService', 'CancelBackfill', {integrationId: button.dataset.integrationId});
          updateBackfill(row, res.backfill);
          showStatus('Backfill of ' + row.dataset.resourceName + ' cancelled.', 'ok');
        } catch (err) {
          showStatus('Could not cancel the backfill: ' + err.message, 'error');
        }
        button.disabled = false;
      });
    });

    root.querySelectorAll('[data-action="unlink"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        if (!window.confirm('Unlink ' + button.dataset.label + '? It stops syncing; its observations stay.')) return;
        button.disabled = true;
        try {
          await call('IntegrationService', 'UnlinkIntegration', {integrationId: button.dataset.integrationId});
          reloadWith('unlinked');
        } catch (err) {
          showStatus('Could not unlink: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('form[data-action="sync-settings"]').forEach(function (form) {
      form.addEventListener('submit', async function (event) {
        event.preventDefault();
        const events = Array.from(form.querySelectorAll('input[name="event"]:checked'))
          .map(function (input) { return input.value; });
        // UpdateSyncConfig replaces each list it is given whole; StringList tells "none" from "unchanged".
        const request = {integrationId: form.dataset.integrationId, events: {values: events}, autoSync: form.elements.autoSync.checked};
        if (form.elements.branches) request.branches = {values: lines(form.elements.branches.value)};
        if (form.elements.paths) request.paths = {values: lines(form.elements.paths.value)};
        const button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        try {
          await call('IntegrationService', 'UpdateSyncConfig', request);
          reloadWith('saved');
        } catch (err) {
          showStatus('Could not save the settings: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('[data-action="restart-job"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        try {
          await call('JobService', 'RestartJob', {jobId: button.dataset.jobId});
          reloadWith('restarted');
        } catch (err) {
          showStatus('Could not restart the job: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('[data-action="validate"]').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        try {
          await call('GitHubService', 'ValidateInstallations', {installationId: button.dataset.installationId});
          reloadWith('validated');
        } catch (err) {
          showStatus('Could not validate the installation: ' + err.message, 'error');
          button.disabled = false;
        }
      });
    });

    root.querySelectorAll('tr.integration').forEach(function (row) {
      if (!terminal[row.dataset.backfillStatus]) watchBackfill(row);
    });

    // A notice rendered from ?notice= is shown once: take it out of the address, so a later reload or a
    // bookmark does not repeat it.
    const url = new URL(window.location.href);
    if (url.searchParams.has('notice')) {
      url.searchParams.delete('notice');
      window.history.replaceState(null, '', url.toString());
    }
  }

  // reloadWith reloads the sources page with a notice the server renders after the reload (one of a fixed
  // set of words; the server never echoes text from the address).
  function reloadWith(notice) {
    const url = new URL(window.location.href);
    url.searchParams.set('notice', notice);
    window.location.assign(url.toString());
  }

  // lines splits a textarea into its non-empty trimmed lines.
  function lines(text) {
    return String(text || '').split('\n').map(function (l) { return l.trim(); }).filter(function (l) { return l !== ''; });
  }

  // updateBackfill shows a BackfillState (Connect JSON) in an integration row.
  function updateBackfill(row, state) {
    state = state || {};
    const status = enumWord(state.status, 'BACKFILL_STATUS_');
    row.dataset.backfillStatus = status;
    row.querySelector('.backfill-status').textContent = status;
    const processed = state.processed || 0;
    row.querySelector('.backfill-progress').textContent =
      state.total !== undefined ? processed + ' / ' + state.total : processed + ' processed';
    let errorEl = row.querySelector('.backfill-error');
    if (state.error) {
      if (!errorEl) {
        errorEl = document.createElement('span');
        errorEl.className = 'error backfill-error';
        row.querySelector('.backfill').append(' ', errorEl);
      }
      errorEl.textContent = state.error;
    } else if (errorEl) {
      errorEl.remove();
    }
    const button = row.querySelector('[data-action="backfill"]');
    if (button) button.disabled = !terminal[status];
    const cancel = row.querySelector('[data-action="cancel-backfill"]');
    if (cancel) cancel.hidden = !!terminal[status];
  }

  // watchBackfill polls a row's backfill until it ends.
  function watchBackfill(row) {
    if (row.dataset.watching) return;
    row.dataset.watching = '1';
    const tick = async function () {
      try {
        const res = await call('BackfillService', 'GetBackfillStatus', {integrationId: row.dataset.integrationId});
        updateBackfill(row, res.backfill);
      } catch (err) {
        showStatus('Could not read the backfill progress: ' + err.message, 'error');
      }
      if (terminal[row.dataset.backfillStatus]) {
        delete row.dataset.watching;
        if (row.dataset.backfillStatus === 'completed') {
          showStatus('Backfill of ' + row.dataset.resourceName + ' completed. Reload the page to see what it imported.', 'ok');
        }
        return;
      }
      window.setTimeout(tick, 1000);
    };
    window.setTimeout(tick, 500);
  }

  onSignOut();
  switch (body.dataset.page) {
    case 'sign-in': signInPage(); break;
    case 'connected': connectedPage(); break;
    case 'workspaces': workspacesPage(); break;
    case 'sources': sourcesPage(); break;
  }
})();
