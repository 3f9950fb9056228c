import { type Html, html } from './html.js';

export interface PageFrame {
  /** The signed-in person's display name, for the header and the sign-out button. */
  readonly signedInAs?: string | null | undefined;
  readonly csrf: string;
}

function layout(title: string, frame: PageFrame, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · devicegate</title>
<link rel="stylesheet" href="/device/style.css">
</head>
<body>
<header>
<span class="brand">devicegate</span>
${
  frame.signedInAs
    ? html`<form method="post" action="/device/sign-out">
<span class="muted">Signed in as <strong>${frame.signedInAs}</strong></span>
<input type="hidden" name="csrf" value="${frame.csrf}">
<button type="submit" class="link">Sign out</button>
</form>`
    : ''
}
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

export function codeEntryPage(frame: PageFrame, options: { prefill?: string | undefined; message?: string | undefined }): Html {
  return layout(
    'Connect a device',
    frame,
    html`<h1>Connect a device</h1>
<p>Enter the code shown on the device or terminal you want to sign in.</p>
${options.message ? html`<p class="error" role="alert">${options.message}</p>` : ''}
<form method="post" action="/device">
<input type="hidden" name="csrf" value="${frame.csrf}">
<label for="user_code">Code</label>
<input class="code" type="text" id="user_code" name="user_code" value="${options.prefill ?? ''}" required
  autocomplete="off" autocapitalize="characters" autocorrect="off" spellcheck="false" maxlength="32" autofocus
  aria-describedby="code_hint">
<p id="code_hint" class="muted">${
      options.prefill ? 'Check that this is exactly the code your device shows.' : 'For example WDJB-MJHT. Dashes and case do not matter.'
    }</p>
<div class="actions"><button type="submit" class="primary">Continue</button></div>
</form>`,
  );
}

export function signInPage(frame: PageFrame, options: { username?: string | undefined; message?: string | undefined }): Html {
  return layout(
    'Sign in',
    frame,
    html`<h1>Sign in</h1>
<p>Sign in to decide whether the device or application may act for you.</p>
${options.message ? html`<p class="error" role="alert">${options.message}</p>` : ''}
<form method="post" action="/device/sign-in">
<input type="hidden" name="csrf" value="${frame.csrf}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${options.username ?? ''}" required autocomplete="username" autocapitalize="none" spellcheck="false">
<label for="password">Password</label>
<input type="password" id="password" name="password" required autocomplete="current-password">
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
  );
}

export interface ConfirmationDetails {
  readonly userCode: string;
  readonly clientName: string;
  readonly clientId: string;
  readonly scopes: readonly { scope: string; description: string | null }[];
  readonly resources: readonly string[];
  readonly requestedAt: string;
  readonly requestedAgo: string;
  readonly requesterIp: string | null;
  readonly requesterUserAgent: string | null;
}

/** Approve and Deny, equally prominent (cross-device BCP), CSRF-protected; both confirmation pages use it. */
function decisionForm(action: string, csrf: string): Html {
  return html`<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${csrf}">
<div class="actions">
<button type="submit" name="decision" value="approve" class="primary">Approve</button>
<button type="submit" name="decision" value="deny" class="danger">Deny</button>
</div>
</form>`;
}

/** The rows both confirmation pages share: the scopes in words and the resources (audiences). */
function whatAndFor(details: { readonly scopes: ConfirmationDetails['scopes']; readonly resources: readonly string[] }): Html {
  return html`<dt>It asks to</dt><dd>${
    details.scopes.length
      ? html`<ul class="scopes">${details.scopes.map(
          ({ scope, description }) => html`<li>${description ?? scope}${description ? html` <span class="muted">(<code>${scope}</code>)</span>` : ''}</li>`,
        )}</ul>`
      : 'Basic access (no scopes)'
  }</dd>
<dt>For</dt><dd>${details.resources.length ? details.resources.map((r, i) => html`${i ? html`<br>` : ''}<code>${r}</code>`) : 'This server'}</dd>`;
}

/** RFC 8628 §5.4 (remote phishing): everything the person needs to recognise their own request. */
export function confirmationPage(frame: PageFrame, details: ConfirmationDetails): Html {
  return layout(
    'Approve access?',
    frame,
    html`<h1>Allow ${details.clientName} to access your account?</h1>
<div class="code-display" aria-label="Code">${details.userCode}</div>
<dl>
<dt>Application</dt><dd>${details.clientName} <span class="muted">(<code>${details.clientId}</code>)</span></dd>
${whatAndFor(details)}
<dt>Requested</dt><dd>${details.requestedAgo} <span class="muted">(${details.requestedAt})</span></dd>
<dt>From</dt><dd>${details.requesterIp ?? 'unknown address'}${details.requesterUserAgent ? html`<br><span class="muted">${details.requesterUserAgent}</span>` : ''}</dd>
</dl>
<div class="warning" role="note"><strong>Only continue if you started this yourself</strong>, just now, on a device you trust, and the code above matches the one it shows. If someone sent you this code or link, choose Deny.</div>
${decisionForm('/device/confirm', frame.csrf)}`,
  );
}

export type Outcome = 'approved' | 'denied' | 'invalid' | 'rate_limited' | 'unavailable' | 'bad_request';

export function outcomePage(frame: PageFrame, outcome: Outcome, detail?: string): Html {
  const pages: Record<Outcome, { title: string; body: Html }> = {
    approved: {
      title: 'Device connected',
      body: html`<p>You approved the request. You can return to your terminal; it will continue by itself.</p>`,
    },
    denied: {
      title: 'Request denied',
      body: html`<p>The device will not get access. If you did not start this request, nothing else is needed.</p>`,
    },
    invalid: {
      title: 'Code not valid',
      body: html`<p>This code is not valid or has expired. Start again on your device to get a new code.</p>
<p><a href="/device">Enter another code</a></p>`,
    },
    rate_limited: {
      title: 'Too many attempts',
      body: html`<p role="alert">Too many wrong attempts. Try again in ${detail ?? 'a few minutes'}.</p>`,
    },
    unavailable: {
      title: 'Temporarily unavailable',
      body: html`<p>The service cannot handle this right now. Try again in a moment.</p>`,
    },
    bad_request: {
      title: 'Something went wrong',
      body: html`<p>${detail ?? 'The form could not be accepted.'} <a href="/device">Start again</a>.</p>`,
    },
  };
  const page = pages[outcome];
  return layout(page.title, frame, html`<h1>${page.title}</h1>
${page.body}`);
}

export interface AuthorizationConfirmationDetails {
  readonly clientName: string;
  readonly clientId: string;
  /** For a client identified by a Client ID Metadata Document: the document's host, who really asks. */
  readonly documentHost: string | null;
  readonly scopes: readonly { scope: string; description: string | null }[];
  readonly resources: readonly string[];
  /** Where the browser goes next: the redirect URI's host (or scheme for a native app). */
  readonly redirectTarget: string;
}

/**
 * The authorization code flow's confirmation (the same questions as the device flow's: who, what,
 * for which resource), plus where the browser will be sent. A document-identified client's name is
 * whatever its author wrote, so its host is shown first and prominently.
 */
export function authorizationConfirmationPage(frame: PageFrame, details: AuthorizationConfirmationDetails): Html {
  const who = details.documentHost ?? details.clientName;
  return layout(
    'Approve access?',
    frame,
    html`<h1>Allow ${who} to access your account?</h1>
${details.documentHost ? html`<div class="code-display" aria-label="Requested by">${details.documentHost}</div>` : ''}
<dl>
<dt>Application</dt><dd>${details.clientName} <span class="muted">(<code>${details.clientId}</code>)</span>${
      details.documentHost ? html`<br><strong>Identified by ${details.documentHost}</strong> <span class="muted">(the name above is the application's own claim)</span>` : ''
    }</dd>
${whatAndFor(details)}
<dt>Then returns to</dt><dd><code>${details.redirectTarget}</code></dd>
</dl>
<div class="warning" role="note"><strong>Only continue if you started this yourself</strong>, just now, in an application you trust. If someone sent you this link, choose Deny.</div>
${decisionForm('/device/authorize/confirm', frame.csrf)}`,
  );
}

/** An authorization request that cannot go back to the client (RFC 6749 §4.1.2.1): shown, never redirected. */
export function authorizationErrorPage(frame: PageFrame, error: string, description: string): Html {
  return layout(
    'Cannot continue',
    frame,
    html`<h1>This sign-in request cannot continue</h1>
<p role="alert">The application sent a request this server cannot accept, so you were not sent back to it.</p>
<dl>
<dt>Error</dt><dd><code data-error="${error}">${error}</code></dd>
<dt>Details</dt><dd>${description}</dd>
</dl>
<p>Start again from the application. If this keeps happening, tell whoever runs it.</p>`,
  );
}
