/**
 * @ringcast/client in the integration tests: a client on a real server (WebSocket through the `ws`
 * package, or raw TCP) that records every event it emits.
 */
import { WebSocket } from 'ws';
import { RingcastClient, type ClientState, type Message, type Push, type RingcastClientOptions, type StateInfo, type WebSocketConstructor } from '@ringcast/client';
import type { RunningServer } from './server.js';

export type SdkKind = 'ws' | 'tcp';

export interface Recorded {
  client: RingcastClient;
  states: Array<[ClientState, StateInfo]>;
  pushes: Push[];
  messages: Message[];
  gaps: number[];
  counts: number[];
  errors: Error[];
  /** Push bodies as text, in arrival order. */
  texts(): string[];
}

export function sdkUrl(kind: SdkKind, s: { wsPort: number; tcpPort: number }): string {
  return kind === 'ws' ? `ws://127.0.0.1:${s.wsPort}/sub` : `tcp://127.0.0.1:${s.tcpPort}`;
}

export function sdkClient(kind: SdkKind, s: RunningServer | { wsPort: number; tcpPort: number }, opts: Partial<RingcastClientOptions> & Pick<RingcastClientOptions, 'auth'>): Recorded {
  const client = new RingcastClient({ url: sdkUrl(kind, s), WebSocket: WebSocket as unknown as WebSocketConstructor, ...opts });
  const r: Recorded = {
    client,
    states: [],
    pushes: [],
    messages: [],
    gaps: [],
    counts: [],
    errors: [],
    texts: () => r.pushes.map((p) => Buffer.from(p.body).toString()),
  };
  client.on('state', (st, info) => r.states.push([st, info]));
  client.on('push', (p) => r.pushes.push({ ...p, body: Buffer.from(p.body) }));
  client.on('message', (m) => r.messages.push(m));
  client.on('gap', (g) => r.gaps.push(g.dropped));
  client.on('count', (n) => r.counts.push(n));
  client.on('error', (e) => r.errors.push(e));
  return r;
}

/** POST to the control port with a raw body; resolves with the status and JSON. */
export async function control(s: { controlPort: number }, pathname: string, body: string | object = ''): Promise<{ status: number; json: any }> {
  const json = typeof body !== 'string';
  const res = await fetch(`http://127.0.0.1:${s.controlPort}${pathname}`, { method: 'POST', headers: json ? { 'content-type': 'application/json' } : {}, body: json ? JSON.stringify(body) : body });
  return { status: res.status, json: await res.json() };
}
