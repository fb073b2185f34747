/** The pages `serve` answers with: plain HTML, everything escaped, no script. */
import type { ApprovalState } from './store.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>body{font:16px/1.4 system-ui,sans-serif;max-width:36em;margin:1.5em auto;padding:0 1em}dt{font-weight:600}button{font-size:1.1em;padding:.6em 1.4em;margin:.3em}textarea{width:100%}</style></head><body>${body}</body></html>`;
}

/** The plan and two buttons; the token goes back only in the form's hidden field. */
export function decisionPage(state: ApprovalState, approver: string, token: string, pending: string | undefined): string {
  const r = state.request;
  const approved = state.decisions.filter((d) => d.stage === 'approved').map((d) => d.decided_by);
  const rows: [string, string][] = [
    ['Plan', r.plan.summary],
    ['Action', `${r.plan.action} ${JSON.stringify(r.plan.args)}`],
    ['Requested by', `${r.requested_by} at ${state.requested_at}`],
    ['Expires', r.expires_at],
    ['Approvals', `${approved.length} of ${r.required} required${approved.length ? ` (${approved.join(', ')})` : ''}`],
    ['Plan hash', r.plan_hash],
    ['You are', approver],
  ];
  const form = pending
    ? `<p><strong>${escapeHtml(pending)}</strong></p>`
    : `<form method="post" action="/a/${escapeHtml(r.id)}"><input type="hidden" name="t" value="${escapeHtml(token)}"><label>Reason (optional)<textarea name="reason" rows="2" maxlength="500"></textarea></label><p><button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="deny">Deny</button></p></form>`;
  return layout(`Approve: ${r.plan.summary}`, `<h1>Approval ${escapeHtml(r.id)}</h1><dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>${form}`);
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
