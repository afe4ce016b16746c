import { describe, expect, it, vi, beforeEach } from 'vitest';
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App.js';
import { ApiContext } from '../lib/load.js';
import { LiveContext, LiveFeed } from '../lib/live.js';
import type { Api } from '../lib/api.js';
import { PushDetail } from '../components/Pushes.js';
import { SandboxList } from '../components/Sandboxes.js';
import { DecisionExplain, DecisionList } from '../components/Decisions.js';
import { AuditPage } from '../components/Audit.js';
import { UsagePage } from '../components/Usage.js';
import { DiffView } from '../components/DiffView.js';
import { apiError, fakeApi } from './fake-api.js';
import { decision, push, record, sandbox, shown } from './fixtures.js';

/** The text an element shows (no jest-dom here). */
const text = (el: Element | undefined | null): string => el?.textContent ?? '';

function withApi(api: Api, ui: React.ReactNode, feed = new LiveFeed()) {
  return render(
    <ApiContext.Provider value={api}>
      <LiveContext.Provider value={feed}>{ui}</LiveContext.Provider>
    </ApiContext.Provider>,
  );
}

beforeEach(() => {
  window.location.hash = '';
  localStorage.clear();
  sessionStorage.clear();
});

describe('login and session', () => {
  it('exchanges the token for a session, clears it from the form and stores nothing', async () => {
    const { api, calls } = fakeApi({
      'GET /dashboard/session': apiError(401, 'AUTH_REQUIRED', 'log in'),
      'POST /dashboard/login': (c) =>
        (c.body as { token: string }).token === 'aibox_tok_secret'
          ? { body: { subject: 'alice', csrf: 'csrf-1' } }
          : apiError(401, 'TOKEN_INVALID', 'unknown token'),
      'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha')] } },
    });
    render(<App api={api} feed={new LiveFeed()} />);
    const input = await screen.findByLabelText('API token');
    await userEvent.type(input, 'wrong');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(text(await screen.findByRole('alert'))).toContain('unknown token');
    expect((input as HTMLInputElement).value).toBe('');

    await userEvent.type(input, 'aibox_tok_secret');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByRole('link', { name: 'alpha' })).toBeTruthy();
    expect(screen.getByRole('navigation', { name: 'Main' })).toBeTruthy();
    expect(document.body.innerHTML).not.toContain('aibox_tok_secret');
    expect(localStorage.length + sessionStorage.length).toBe(0);
    expect(calls.find((c) => c.path === '/dashboard/login')?.headers['x-aibox-csrf']).toBeUndefined();
  });

  it('returns to the login form saying the session ended when the API answers 401', async () => {
    const { api } = fakeApi({
      'GET /dashboard/session': { body: { subject: 'alice', csrf: 'c' } },
      'GET /v1/sandboxes': apiError(401, 'TOKEN_EXPIRED', 'the token expired'),
    });
    render(<App api={api} feed={new LiveFeed()} />);
    const alert = await screen.findByRole('alert');
    expect(text(alert)).toContain('Your session ended');
    expect(text(alert)).toContain('TOKEN_EXPIRED');
    expect(screen.getByLabelText('API token')).toBeTruthy();
  });
});

describe('sandboxes', () => {
  it('lists sandboxes with state, profile, owner, age and protections', async () => {
    const { owner: _, ...ownerless } = sandbox('gamma');
    const { api } = fakeApi({
      'GET /v1/sandboxes': {
        body: {
          sandboxes: [
            sandbox('alpha'),
            sandbox('beta', 'stopped'),
            { ...sandbox('delta'), owner: 'token ci' },
            ownerless,
          ],
        },
      },
    });
    withApi(api, <SandboxList />);
    const rows = await screen.findAllByRole('row');
    expect(rows).toHaveLength(5);
    expect(within(rows[1]!).getByText('running')).toBeTruthy();
    expect(within(rows[1]!).getByText('dev')).toBeTruthy();
    expect(within(rows[3]!).getByText('token ci')).toBeTruthy();
    // A daemon that does not say: a dash, never an empty cell.
    expect(within(rows[4]!).getByText('—')).toBeTruthy();
    expect(within(rows[2]!).getByText('stopped')).toBeTruthy();
    expect(within(rows[1]!).getByText('5 min ago')).toBeTruthy();
    expect(within(rows[1]!).getByLabelText('1 of 2 protections on')).toBeTruthy();
  });

  it('lists the network API sessions too, and hides the section when there are none', async () => {
    const session = {
      id: 'ses_0123abcd',
      state: 'running',
      profile: 'session',
      owner: 'tok_ab12',
      createdAt: new Date().toISOString(),
      lastActivityAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    const { api } = fakeApi({
      'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha')] } },
      'GET /v1/sessions': { body: { sessions: [session] } },
    });
    withApi(api, <SandboxList />);
    const table = await screen.findByRole('table', { name: 'Sessions' });
    expect(text(within(table).getByRole('row', { name: /ses_0123abcd/ }))).toContain('tok_ab12');
    cleanup();
    const without = fakeApi({ 'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha')] } } });
    withApi(without.api, <SandboxList />);
    await screen.findByRole('link', { name: 'alpha' });
    await waitFor(() => expect(without.calls.some((c) => c.path === '/v1/sessions')).toBe(true));
    expect(screen.queryByRole('heading', { name: 'Sessions' })).toBeNull();
  });

  it('reloads when a live sandbox record arrives', async () => {
    let n = 0;
    const { api } = fakeApi({
      'GET /v1/sandboxes': () => ({ body: { sandboxes: n++ === 0 ? [] : [sandbox('fresh')] } }),
    });
    const feed = new LiveFeed();
    withApi(api, <SandboxList />, feed);
    expect(await screen.findByText('No sandboxes yet.')).toBeTruthy();
    feed.dispatch(record({ kind: 'sandbox.created', sandbox: 'fresh' }));
    expect(await screen.findByRole('link', { name: 'fresh' })).toBeTruthy();
  });
});

describe('push review', () => {
  it('shows the staged diff highlighted, without rendering hostile markup', async () => {
    const { api } = fakeApi({ 'POST /v1/pushes/push_0123456789ab/show': { body: shown() } });
    withApi(api, <PushDetail id="push_0123456789ab" />);
    expect(await screen.findByText('Add greeting')).toBeTruthy();
    expect(text(screen.getByTestId('shown-commit'))).toContain('a'.repeat(40));
    const diff = screen.getByLabelText('Diff of the staged commits');
    expect(diff.querySelector('img')).toBeNull();
    expect(diff.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(diff.querySelector('.diff-add .hljs-keyword')?.textContent).toBe('export');
  });

  it('approves exactly the commit shown, with the CSRF token', async () => {
    const { api, calls } = fakeApi({
      'POST /v1/pushes/push_0123456789ab/show': { body: shown() },
      'POST /v1/pushes/push_0123456789ab/approve': {
        body: push({ state: 'approved', reviewedCommit: 'a'.repeat(40) }),
      },
    });
    api.setCsrf('csrf-xyz');
    withApi(api, <PushDetail id="push_0123456789ab" />);
    await userEvent.click(await screen.findByRole('button', { name: /^Approve aaaaaaaaaaaa/ }));
    expect(await screen.findByText(/This push is approved/)).toBeTruthy();
    const approve = calls.find((c) => c.path.endsWith('/approve'))!;
    expect(approve.body).toEqual({ commit: 'a'.repeat(40) });
    expect(approve.headers['x-aibox-csrf']).toBe('csrf-xyz');
  });

  it('says so when the push moved since it was shown, and offers to show the new commit', async () => {
    let shows = 0;
    const { api } = fakeApi({
      'POST /v1/pushes/push_0123456789ab/show': () => ({
        body: shown(push(shows++ === 0 ? {} : { commit: 'c'.repeat(40) })),
      }),
      'POST /v1/pushes/push_0123456789ab/approve': apiError(409, 'PUSH_MOVED', 'the staging ref moved'),
    });
    withApi(api, <PushDetail id="push_0123456789ab" />);
    await userEvent.click(await screen.findByRole('button', { name: /^Approve/ }));
    expect(text(await screen.findByRole('alert'))).toContain('the staging ref moved');
    expect(text(screen.getByRole('alert'))).toContain('PUSH_MOVED');
    await userEvent.click(screen.getByRole('button', { name: 'Show the current commit' }));
    await waitFor(() => expect(text(screen.getByTestId('shown-commit'))).toContain('c'.repeat(40)));
  });

  it('rejects with the reason typed', async () => {
    const { api, calls } = fakeApi({
      'POST /v1/pushes/push_0123456789ab/show': { body: shown() },
      'POST /v1/pushes/push_0123456789ab/reject': {
        body: push({ state: 'rejected', reason: 'tests missing' }),
      },
    });
    withApi(api, <PushDetail id="push_0123456789ab" />);
    await userEvent.type(await screen.findByLabelText(/Reason for rejecting/), 'tests missing');
    await userEvent.click(screen.getByRole('button', { name: 'Reject' }));
    expect(await screen.findByText(/This push is rejected/)).toBeTruthy();
    expect(calls.find((c) => c.path.endsWith('/reject'))!.body).toEqual({ reason: 'tests missing' });
  });
});

describe('decisions', () => {
  it('lists refusals across sandboxes by default and filters by door', async () => {
    const { api, calls } = fakeApi({
      'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha'), sandbox('beta')] } },
      'GET /v1/audit?sandbox=alpha&kind=decision&limit=500': {
        body: {
          records: [
            record({
              kind: 'decision',
              id: 'dec_1',
              sandbox: 'alpha',
              data: { door: 'egress', outcome: 'deny', reason: 'evil.example refused' },
            }),
          ],
        },
      },
      'GET /v1/audit?sandbox=beta&kind=decision&limit=500': {
        body: {
          records: [
            record({
              kind: 'decision',
              id: 'dec_2',
              sandbox: 'beta',
              data: { door: 'exec', outcome: 'deny', reason: 'curl is not allowed' },
            }),
            record({
              kind: 'decision',
              id: 'dec_3',
              sandbox: 'beta',
              data: { door: 'exec', outcome: 'allow', reason: 'ls is fine' },
            }),
          ],
        },
      },
    });
    withApi(api, <DecisionList />);
    expect(await screen.findByText('evil.example refused')).toBeTruthy();
    expect(screen.getByText('curl is not allowed')).toBeTruthy();
    expect(screen.queryByText('ls is fine')).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText('Door'), 'exec');
    expect(screen.queryByText('evil.example refused')).toBeNull();
    expect(calls.filter((c) => c.path.startsWith('/v1/audit'))).toHaveLength(2);
  });

  it('explains a decision layer by layer with the rule and its file:line', async () => {
    const { api } = fakeApi({ 'GET /v1/policy/decisions/dec_0badc0de': { body: decision() } });
    withApi(api, <DecisionExplain id="dec_0badc0de" />);
    expect(await screen.findByText(/evil.example is not in the egress allowlist/)).toBeTruthy();
    expect(screen.getByText('data.aibox.org.egress.allow_domains')).toBeTruthy();
    expect(screen.getByText('org/egress.rego:12')).toBeTruthy();
    expect(screen.getByText('abstain')).toBeTruthy();
  });

  it('shows the API error of an unknown decision', async () => {
    const { api } = fakeApi({
      'GET /v1/policy/decisions/dec_ffff': apiError(404, 'POLICY_DECISION_NOT_FOUND', 'no decision dec_ffff'),
    });
    withApi(api, <DecisionExplain id="dec_ffff" />);
    expect(text(await screen.findByRole('alert'))).toContain('POLICY_DECISION_NOT_FOUND');
  });
});

describe('audit', () => {
  it('shows the timeline of a sandbox and the chain verification', async () => {
    const { api } = fakeApi({
      'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha')] } },
      'GET /v1/audit?sandbox=alpha&limit=300': {
        body: {
          records: [
            record({ kind: 'exec', sandbox: 'alpha', data: { action: 'ls -la' } }),
            record({ kind: 'api.refused', sandbox: 'alpha', data: { reason: 'not yours' } }),
          ],
        },
      },
      'GET /v1/audit/verify': { body: { ok: true, records: 42, lastSeq: 42, lastHash: 'abcdef0123456789' } },
    });
    withApi(api, <AuditPage sandbox={undefined} />);
    const timeline = await screen.findByRole('list', { name: /Audit records of alpha/ });
    await waitFor(() => expect(within(timeline).getAllByRole('listitem')).toHaveLength(2));
    expect(text(within(timeline).getAllByRole('listitem')[0])).toContain('not yours');
    await userEvent.click(screen.getByRole('button', { name: 'Verify chain' }));
    expect(text(await screen.findByTestId('verify-status'))).toContain('Chain verified: 42 records');
  });

  it('says where a broken chain breaks', async () => {
    const { api } = fakeApi({
      'GET /v1/sandboxes': { body: { sandboxes: [] } },
      'GET /v1/audit/verify': {
        body: {
          ok: false,
          records: 7,
          lastSeq: 6,
          lastHash: 'x',
          problem: { line: 4, seq: 4, reason: 'hash mismatch' },
        },
      },
    });
    withApi(api, <AuditPage sandbox={undefined} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Verify chain' }));
    expect(text(await screen.findByTestId('verify-status'))).toContain(
      'Chain broken at line 4 (record #4): hash mismatch',
    );
  });
});

const egressRequest = (id: string, verdict: 'allow' | 'deny', kind: string, target: string) => ({
  id,
  sandboxId: 'sbx_alpha',
  sandbox: 'alpha',
  time: Date.now() - 60_000,
  layer: kind === 'A' ? ('dns' as const) : ('proxy' as const),
  verdict,
  reason: verdict === 'deny' ? 'EGRESS_DOMAIN_NOT_ALLOWED' : 'EGRESS_ALLOWED',
  target,
  kind,
});

describe('usage', () => {
  it('charts LLM tokens per sandbox and provider and counts egress decisions', async () => {
    const { api } = fakeApi({
      'GET /v1/sandboxes': { body: { sandboxes: [sandbox('alpha')] } },
      'GET /v1/audit?sandbox=alpha&kind=llm-call&limit=2000': {
        body: {
          records: [
            record({
              kind: 'llm-call',
              sandbox: 'alpha',
              data: {
                provider: 'anthropic',
                outcome: 'forwarded',
                usage: { inputTokens: 120, outputTokens: 30 },
              },
            }),
          ],
        },
      },
      'GET /v1/egress/decisions?limit=500': {
        body: {
          matched: 2,
          decisions: [
            egressRequest('dec_00000002', 'deny', 'CONNECT', 'pastebin.com:443'),
            egressRequest('dec_00000001', 'allow', 'GET', 'https://registry.npmjs.org/left-pad'),
          ],
        },
      },
    });
    const feed = new LiveFeed();
    withApi(api, <UsagePage />, feed);
    const totals = await screen.findByRole('table', { name: 'LLM totals per sandbox and provider' });
    expect(text(within(totals).getByRole('row', { name: /alpha · anthropic/ }))).toContain(
      'alpha · anthropic1012030',
    );
    expect(screen.getByRole('img', { name: /tokens per time bucket.*maximum 150/ })).toBeTruthy();
    const egress = await screen.findByRole('table', { name: 'Egress requests per sandbox' });
    expect(text(within(egress).getByRole('row', { name: /alpha/ }))).toContain('alpha11');
    const requests = screen.getByRole('table', { name: 'Egress requests' });
    expect(text(requests)).toContain('GET https://registry.npmjs.org/left-pad');
    // A refusal links to its explanation; an allowed request has none.
    expect(
      within(requests)
        .getByRole('link', { name: /Explain dec_00000002/ })
        .getAttribute('href'),
    ).toBe('#/decisions/dec_00000002');
    // Live: a new request appears without a reload, and counts follow.
    act(() => feed.dispatchEgress(egressRequest('dec_00000003', 'allow', 'A', 'github.com')));
    expect(text(screen.getByRole('table', { name: 'Egress requests' }))).toContain('A github.com');
    expect(text(within(egress).getByRole('row', { name: /alpha/ }))).toContain('alpha21');
    // Filter: refused only.
    fireEvent.change(screen.getByLabelText('Verdict'), { target: { value: 'deny' } });
    const refused = within(screen.getByRole('table', { name: 'Egress requests' })).getAllByRole('row');
    expect(refused).toHaveLength(2);
    expect(text(refused[1])).toContain('pastebin.com');
  });
});

describe('DiffView', () => {
  it('says when the diff is truncated', () => {
    render(<DiffView diff={shown().diff} truncated />);
    expect(text(screen.getByRole('note'))).toContain('truncated');
  });
});

vi.setConfig({ testTimeout: 20_000 });
