// Declarations of the bridge's browser client, /client.js (docs/client.md).

/** The event envelope (docs/api.md). */
export interface Envelope {
  id: string;
  endpoint: string;
  provider: string;
  event_id: string;
  event_type: string | null;
  received_at: string;
  verified: boolean;
  headers: Record<string, string>;
  body: unknown;
  body_base64?: string;
  replay_of: string | null;
  trace?: string;
  [field: string]: unknown;
}

export type State = "connecting" | "live" | "offline" | "resyncing";

export interface StateChange {
  state: State;
  /** Close code and reason of the last close, if any. */
  code?: number;
  reason?: string;
  /** When offline and retrying: the time (ms since epoch) of the next attempt, else 0. */
  retryAt: number;
  /** Offline for good: a close the catalogue says not to retry, or `feed.close()`. */
  fatal: boolean;
}

export interface Subscribed {
  channel: string;
  /** The cursor the subscription resumed after, or null. */
  since: string | null;
  cursor: string;
  /** false: `since` was older than the bridge's history, and events were missed. */
  recovered: boolean;
  /** With a glob subscription: the glob that matched `channel`. */
  glob?: string;
}

export interface Dropped {
  type: "dropped";
  channel: string;
  count: number;
  after: string;
}

export interface Rejected {
  type: "rejected";
  channel: string;
  rejection: Record<string, unknown>;
}

export interface FeedError {
  channel: string | null;
  code: string;
  message: string;
}

export interface SubscribeOptions {
  /** Resume after this cursor (a map channel -> cursor for a glob). */
  since?: string | Record<string, string>;
  filter?: { event_type: string };
  onSlow?: "close" | "drop_oldest" | "latest";
  /** Admin token with a glob only: rejected deliveries too. */
  rejections?: boolean;
  onEvent?: (event: Envelope, meta: { channel: string; bytes: number }) => void;
  onDropped?: (frame: Dropped) => void;
  onRejected?: (frame: Rejected) => void;
  onSubscribed?: (answer: Subscribed) => void;
  onGap?: (answer: Subscribed) => void;
  onError?: (error: FeedError) => void;
}

export interface ConnectOptions {
  /** The bridge's base URL, http(s)://host:port; default: where client.js was loaded from. */
  url?: string;
  token?: string | null;
  getToken?: () => string | Promise<string>;
  /** Keep cursors here too (e.g. sessionStorage) so a reload resumes. */
  storage?: Storage | null;
  backoff?: { base?: number; max?: number };
}

export interface Subscription {
  unsubscribe(): void;
  cursor(): string | null;
}

export interface Feed {
  readonly state: State;
  subscribe(channel: string, options?: SubscribeOptions): Subscription;
  unsubscribe(channel: string): void;
  on(kind: "state", fn: (change: StateChange) => void): () => void;
  on(kind: "gap", fn: (answer: Subscribed) => void): () => void;
  on(kind: "error", fn: (error: FeedError) => void): () => void;
  cursor(channel: string): string | null;
  reconnectNow(): void;
  close(): void;
}

export interface CloseCode {
  name: string;
  meaning: string;
  reconnect: "resume" | "token" | "never";
}

export const CLOSE_CODES: Readonly<Record<string, CloseCode>>;
export function connect(options?: ConnectOptions): Feed;
export function reconnectAfter(code: number): CloseCode["reconnect"];
export function compareCursors(a: string, b: string): number;
export function parseCursor(id: string): [number, number];
export function tokenClaims(token: string): { channels: string[]; expiresAt: number } | null;
