import { createContext, useContext, useEffect, useRef, useState } from 'react';
import type { AuditRecordJson, EgressRequest } from './types.js';

type Listener = (record: AuditRecordJson) => void;
type EgressListener = (decision: EgressRequest) => void;

/**
 * Live updates: one EventSource on /v1/events (server-sent events) per dashboard, fanned out to the screens that
 * care about some record kinds. The browser reconnects by itself; `state` says whether we are live.
 */
export class LiveFeed {
  private readonly listeners = new Set<{ kinds: string[] | undefined; fn: Listener }>();
  private readonly egressListeners = new Set<EgressListener>();
  private source: EventSource | undefined;
  private stateListeners = new Set<(s: LiveState) => void>();
  state: LiveState = 'connecting';

  constructor(private readonly url = '/v1/events') {}

  start(factory: (url: string) => EventSource = (u) => new EventSource(u)): void {
    if (this.source || typeof EventSource === 'undefined') return;
    const source = factory(this.url);
    this.source = source;
    source.addEventListener('open', () => this.setState('live'));
    source.addEventListener('error', () => this.setState('offline'));
    source.addEventListener('audit', (e) => {
      try {
        this.dispatch(JSON.parse((e as MessageEvent<string>).data) as AuditRecordJson);
      } catch {
        /* a malformed event is ignored, the next refresh shows the truth */
      }
    });
    source.addEventListener('egress', (e) => {
      try {
        this.dispatchEgress(JSON.parse((e as MessageEvent<string>).data) as EgressRequest);
      } catch {
        /* as above */
      }
    });
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
  }

  dispatch(record: AuditRecordJson): void {
    for (const l of this.listeners)
      if (!l.kinds || l.kinds.some((k) => record.kind === k || record.kind.startsWith(k + '.'))) l.fn(record);
  }

  dispatchEgress(decision: EgressRequest): void {
    for (const fn of this.egressListeners) fn(decision);
  }

  /** Each egress request decided from now on (allowed ones are not audit records: their own event). */
  subscribeEgress(fn: EgressListener): () => void {
    this.egressListeners.add(fn);
    return () => this.egressListeners.delete(fn);
  }

  subscribe(kinds: string[] | undefined, fn: Listener): () => void {
    const entry = { kinds, fn };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  private setState(s: LiveState): void {
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }
}

export type LiveState = 'connecting' | 'live' | 'offline';

export const LiveContext = createContext<LiveFeed>(new LiveFeed());

/** Calls `fn` for each live record of these kinds (a kind also matches its dotted sub-kinds: push → push.pending). */
export function useLive(kinds: string[] | undefined, fn: Listener): void {
  const feed = useContext(LiveContext);
  const ref = useRef(fn);
  ref.current = fn;
  const key = kinds?.join(',');
  useEffect(() => feed.subscribe(key?.split(','), (r) => ref.current(r)), [feed, key]);
}

/** Calls `fn` for each live egress request. */
export function useLiveEgress(fn: EgressListener): void {
  const feed = useContext(LiveContext);
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => feed.subscribeEgress((d) => ref.current(d)), [feed]);
}

export function useLiveState(): LiveState {
  const feed = useContext(LiveContext);
  const [state, setState] = useState(feed.state);
  useEffect(() => feed.onState(setState), [feed]);
  return state;
}
