import { useEffect, useRef, useState } from 'react';
import { Terminal as XTerm } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { ExecSocket, execUrl } from '../lib/exec-socket.js';
import { href } from '../lib/route.js';
import { PageHeader } from './common.js';

/** Prefer bash when the image has it; a login shell so the sandbox's profile applies. */
const SHELL = ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi'];

type Status =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'exited'; code: number }
  | { kind: 'error'; text: string };

/** A live terminal into a sandbox: xterm.js over the streaming exec WebSocket, resized with the window. */
export function TerminalPage({ name }: { name: string }) {
  const host = useRef<HTMLDivElement>(null);
  const reconnect = useRef<HTMLButtonElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting' });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
    const term = new XTerm({
      cursorBlink: true,
      convertEol: false,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      fontSize: 14,
      screenReaderMode: false,
      theme: dark
        ? { background: '#0f1419', foreground: '#e6e6e6' }
        : { background: '#fbfbfb', foreground: '#1b1f24', cursor: '#1b1f24', selectionBackground: '#b3d4fc' },
    });
    // Tab belongs to the shell (completion): F6, as between a browser's page regions, leaves the terminal instead,
    // so a keyboard user is never trapped in it.
    term.attachCustomKeyEventHandler((e) => {
      if (e.key !== 'F6') return true;
      if (e.type === 'keydown') {
        e.preventDefault();
        reconnect.current?.focus();
      }
      return false;
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    try {
      fit.fit();
    } catch {
      /* not laid out yet */
    }
    setStatus({ kind: 'connecting' });
    const sock = new ExecSocket(
      execUrl(window.location, name),
      { cmd: SHELL, cols: term.cols, rows: term.rows },
      {
        open: () => setStatus({ kind: 'open' }),
        output: (data) => term.write(data),
        exit: (code) => {
          setStatus({ kind: 'exited', code });
          term.write(`\r\n[process exited with code ${code}]\r\n`);
        },
        error: (e) => setStatus({ kind: 'error', text: `${e.message} (${e.code}). ${e.hint}` }),
        closed: () =>
          setStatus((s) =>
            s.kind === 'open' || s.kind === 'connecting'
              ? { kind: 'error', text: 'The connection closed.' }
              : s,
          ),
      },
    );
    const data = term.onData((d) => sock.input(d));
    const resized = term.onResize(({ cols, rows }) => sock.resize(cols, rows));
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    });
    observer.observe(el);
    term.focus();
    return () => {
      observer.disconnect();
      data.dispose();
      resized.dispose();
      sock.close();
      term.dispose();
    };
  }, [name, generation]);

  return (
    <section className="terminal-page">
      <PageHeader title={`Terminal: ${name}`}>
        <button type="button" ref={reconnect} onClick={() => setGeneration((g) => g + 1)}>
          Reconnect
        </button>
        <a className="button" href={href('sandboxes', name)}>
          Back to sandbox
        </a>
      </PageHeader>
      <p role="status" className="muted" aria-live="polite">
        {status.kind === 'connecting' && 'Connecting…'}
        {status.kind === 'open' &&
          'Connected. Keys go to the sandbox (Tab too); press F6 to leave the terminal.'}
        {status.kind === 'exited' && `The shell exited with code ${status.code}.`}
      </p>
      {status.kind === 'error' ? (
        <div role="alert" className="banner banner-error">
          {status.text}
        </div>
      ) : null}
      <div
        ref={host}
        className="terminal"
        aria-label={`Terminal of sandbox ${name}`}
        data-testid="terminal"
      />
    </section>
  );
}
