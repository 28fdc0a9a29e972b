// The admin API (CONTRACT §3): bearer token on every call, JSON in and out.

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && (body.message || body.reason || body.error)) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.error;
    this.field = body && body.field;
  }
}

const enc = encodeURIComponent;

export class Api {
  constructor(token) {
    this.token = token;
    this.paths = null; // from /api/openapi.json: which optional routes this bridge has
  }

  async call(method, path, body, signal) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, { error: "network", message: `bridge unreachable (${err.message})` });
    }
    if (response.status === 204) return null;
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** Learn the optional routes (replay, raw body, providers) from the OpenAPI document. */
  async discover() {
    try {
      const doc = await this.call("GET", "/api/openapi.json");
      this.paths = doc && doc.paths ? doc.paths : {};
    } catch {
      this.paths = {};
    }
    return this.paths;
  }

  has(path, method) {
    const entry = this.paths && this.paths[path];
    return Boolean(entry && entry[method]);
  }

  /** Whether /api/endpoints/{...}/events/{...}/<action> exists, whatever its parameters' names. */
  hasEventRoute(action, method) {
    const shape = new RegExp(`^/api/endpoints/\\{[^/}]+\\}/events/\\{[^/}]+\\}/${action}$`);
    return Object.entries(this.paths || {}).some(([path, entry]) => shape.test(path) && entry && entry[method]);
  }

  /** Whether /api/endpoints/{...}/<action> exists, whatever its parameter's name. */
  hasEndpointRoute(action, method) {
    const shape = new RegExp(`^/api/endpoints/\\{[^/}]+\\}/${action}$`);
    return Object.entries(this.paths || {}).some(([path, entry]) => shape.test(path) && entry && entry[method]);
  }

  get canReplay() {
    return this.hasEventRoute("replay", "post");
  }

  get canRaw() {
    return this.hasEventRoute("raw", "get");
  }

  get canRejections() {
    return this.hasEndpointRoute("rejections", "get");
  }

  async providers() {
    try {
      const data = await this.call("GET", "/api/providers");
      return data && Array.isArray(data.providers) ? data.providers : null;
    } catch {
      return null;
    }
  }

  async endpoints() {
    const data = await this.call("GET", "/api/endpoints");
    return data.endpoints;
  }

  createEndpoint(fields) {
    return this.call("POST", "/api/endpoints", fields);
  }

  addSecret(id, secret) {
    return this.call("POST", `/api/endpoints/${enc(id)}/secrets`, secret ? { secret } : {});
  }

  /** The newest `limit` events strictly before `cursor`, oldest first; `next` when older remain. */
  eventsBefore(id, cursor, limit = 200) {
    return this.call("GET", `/api/endpoints/${enc(id)}/events?before=${enc(cursor)}&limit=${limit}`);
  }

  /**
   * The history search (docs/api.md): up to `limit` events strictly before `cursor` whose
   * type matches the glob `type` and whose body holds the text `q`, oldest first; `scanned`
   * entries were looked at, and `next` is where to go on (the page was full or the bridge's
   * scan budget ran out), null once the first retained event was reached.
   */
  searchBefore(id, cursor, { type, q }, limit, signal) {
    const query = new URLSearchParams({ before: cursor, limit: String(limit) });
    if (type) query.set("event_type", type);
    if (q) query.set("q", q);
    return this.call("GET", `/api/endpoints/${enc(id)}/events?${query}`, undefined, signal);
  }

  /** Events strictly after `cursor`, oldest first; `next` when more follow (ask again from it). */
  eventsSince(id, cursor, limit = 1000) {
    return this.call("GET", `/api/endpoints/${enc(id)}/events?since=${enc(cursor)}&limit=${limit}`);
  }

  /** The signature debugger: recently rejected deliveries, each with a diagnosis. */
  async rejections(id) {
    const data = await this.call("GET", `/api/endpoints/${enc(id)}/rejections`);
    return data && Array.isArray(data.rejections) ? data.rejections : [];
  }

  replay(id, cursor) {
    return this.call("POST", `/api/endpoints/${enc(id)}/events/${enc(cursor)}/replay`, {});
  }

  async raw(id, cursor) {
    const response = await fetch(`/api/endpoints/${enc(id)}/events/${enc(cursor)}/raw`, {
      headers: { Authorization: `Bearer ${this.token}` },
      cache: "no-store",
    });
    if (!response.ok) throw new ApiError(response.status, null);
    return new Uint8Array(await response.arrayBuffer());
  }
}

// Subscriber tokens' claims (channels, expiry), as the client library reads them.
export { tokenClaims as subscriberClaims } from "/client.js";
