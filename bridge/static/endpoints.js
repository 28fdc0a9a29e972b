// The endpoints panel: list (provider, webhook URL, secrets, setup steps, rejected
// deliveries), create form, add-secret (rotation). Admin token only.

import { copyButton, fill, h, plural } from "./dom.js";
import { Rejections } from "./rejections.js";

export class EndpointsPanel {
  constructor(elements, context, signal) {
    this.el = elements;
    this.context = context; // {api, counts(endpoint), onCreated(endpoint), onChange(list)}
    this.providers = []; // from GET /api/providers: the bridge's own registry
    this.endpoints = new Map();
    this.open = new Set();
    this.countEls = new Map();
    this.rejections = new Rejections(context.api);
    const options = { signal }; // the dashboard removes these listeners when it stops
    elements.form.addEventListener(
      "submit",
      (e) => {
        e.preventDefault();
        this.create();
      },
      options,
    );
    elements.provider.addEventListener("change", () => this.describeProvider(), options);
    elements.id.addEventListener("input", () => this.previewUrl(), options);
    elements.refresh.addEventListener("click", () => this.refresh(), options);
  }

  setProviders(list) {
    this.providers = list || [];
    const select = this.el.provider;
    fill(select, this.providers.map((p) => h("option", { value: p.name }, p.label || p.name)));
    if (!this.providers.length) {
      this.el.secretHint.textContent = "The provider list did not load: reload the page.";
      this.el.secretHint.className = "hint danger-text";
      return;
    }
    this.describeProvider();
  }

  /** The webhook URL the id will get, so it can be registered before the secret is known. */
  previewUrl() {
    const id = this.el.id.value.trim();
    const known = this.endpoints.values().next().value;
    const base = known ? known.url.slice(0, known.url.lastIndexOf("/hooks/")) : location.origin;
    this.el.preview.textContent = id ? `Webhook URL: ${base}/hooks/${id}` : "";
  }

  provider(name) {
    return this.providers.find((p) => p.name === name) || { name, generates_secret: true };
  }

  /** Propose the provider's `mask_defaults`: editable, sent as `options.mask`. */
  proposeMask(p) {
    const { mask, maskHint } = this.el;
    const takes = !Array.isArray(p.options) || p.options.includes("mask");
    const defaults = Array.isArray(p.mask_defaults) ? p.mask_defaults.map(String) : [];
    mask.disabled = !takes;
    mask.value = defaults.join("\n");
    maskHint.textContent = !takes
      ? `${p.label || p.name} endpoints take no mask.`
      : defaults.length
        ? `Proposed for ${p.label || p.name}, whose payloads carry personal data: values at these paths are stored as "***" (edit or empty the list; the raw bytes stay as sent, so replays still verify).`
        : 'Values at these paths (data.object.email, *.card.last4, items[*].email) are stored as "***"; empty: nothing is masked.';
  }

  describeProvider() {
    const p = this.provider(this.el.provider.value);
    this.proposeMask(p);
    const { secret, secretHint, secretReq } = this.el;
    if (p.requires_secret === false) {
      secret.disabled = true;
      secret.required = false;
      secret.value = "";
      secretReq.textContent = "(not used)";
      secretHint.textContent = "No signature is checked: anyone who knows the URL can post events. The bridge may refuse this unless the operator allows it.";
      secretHint.className = "hint danger-text";
    } else if (p.generates_secret) {
      secret.disabled = false;
      secret.required = false;
      secretReq.textContent = "(optional)";
      secretHint.textContent = `You choose this secret: leave it empty and the bridge generates one, then paste it into ${p.label || p.name}.`;
      secretHint.className = "hint";
    } else {
      secret.disabled = false;
      secret.required = true;
      secretReq.textContent = "(required)";
      secretHint.textContent = p.public_key
        ? `${p.label || p.name} signs with its private key: paste its public key here (from its settings, after adding the URL).`
        : `${p.label || p.name} issues the signing secret: copy it from ${p.label || p.name} after adding the URL, and paste it here.`;
      secretHint.className = "hint";
    }
  }

  async refresh() {
    const { api } = this.context;
    try {
      const list = await api.endpoints();
      this.setEndpoints(list);
      this.setNote("");
    } catch (err) {
      this.setNote(`Could not load endpoints: ${err.message}`);
    }
  }

  setNote(text) {
    this.el.note.textContent = text;
    this.el.note.hidden = !text;
  }

  setEndpoints(list) {
    // The periodic refresh must not fold open cards or wipe a half-typed secret: re-render
    // only when something changed.
    const signature = JSON.stringify(list);
    if (signature === this.signature) return;
    this.signature = signature;
    this.endpoints = new Map(list.map((e) => [e.id, e]));
    this.render();
    this.el.createBox.open = this.el.createBox.open || list.length === 0;
    this.context.onChange(this.sorted());
  }

  sorted() {
    return [...this.endpoints.values()].sort(
      (a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")) || a.id.localeCompare(b.id),
    );
  }

  render() {
    this.countEls.clear();
    const items = this.sorted().map((e) => this.card(e));
    fill(this.el.list, items.length ? items : h("li", { class: "empty" }, "No endpoints yet: create one above."));
  }

  updateCounts() {
    for (const [id, el] of this.countEls) {
      const n = this.context.counts(id);
      const text = n ? plural(n, "event") : "";
      if (el.textContent !== text) el.textContent = text;
    }
  }

  card(endpoint) {
    const provider = this.provider(endpoint.provider);
    const unverified = endpoint.verified === false || endpoint.provider === "none";
    const count = h("span", { class: "ep-count" });
    this.countEls.set(endpoint.id, count);
    const details = h(
      "details",
      { class: "ep", open: this.open.has(endpoint.id), dataset: { endpoint: endpoint.id } },
      h(
        "summary",
        {},
        h("span", { class: "ep-id" }, endpoint.id),
        h("span", { class: unverified ? "badge danger" : "badge neutral" }, unverified ? "unverified" : endpoint.provider),
        count,
      ),
      h(
        "div",
        { class: "ep-body" },
        endpoint.description ? h("p", { class: "muted" }, endpoint.description) : null,
        h("div", { class: "kv-label" }, "Webhook URL"),
        h("div", { class: "copy-row" }, h("code", { class: "url" }, endpoint.url), copyButton("Copy", endpoint.url, { "aria-label": `Copy the webhook URL of ${endpoint.id}` })),
        h("div", { class: "kv-label" }, `Secrets (${(endpoint.secrets || []).length})`),
        h("ul", { class: "secrets" }, (endpoint.secrets || []).map((s) => secretRow(endpoint, s))),
        maskList(endpoint),
        this.rotateForm(endpoint, provider),
        endpoint.setup && endpoint.setup.length
          ? [h("div", { class: "kv-label" }, `Set up on ${provider.label || endpoint.provider}`), h("ol", { class: "steps" }, endpoint.setup.map((step) => h("li", {}, step)))]
          : null,
        this.showsRejections(endpoint, provider) ? this.rejections.section(endpoint.id) : null,
      ),
    );
    details.addEventListener("toggle", () => {
      if (details.open) {
        this.open.add(endpoint.id);
        // Selecting an endpoint fetches its rejected deliveries (its "Refresh" does again).
        if (this.showsRejections(endpoint, provider)) this.rejections.load(endpoint.id);
      } else this.open.delete(endpoint.id);
    });
    this.updateCountsFor(endpoint.id, count);
    return h("li", {}, details);
  }

  /** The signature debugger, where the bridge has it and the endpoint checks signatures. */
  showsRejections(endpoint, provider) {
    return Boolean(this.context.api && this.context.api.canRejections) && provider.requires_secret !== false && endpoint.provider !== "none";
  }

  updateCountsFor(id, el) {
    const n = this.context.counts(id);
    el.textContent = n ? plural(n, "event") : "";
  }

  rotateForm(endpoint, provider) {
    const input = h("input", {
      type: "text",
      autocomplete: "off",
      spellcheck: "false",
      id: `rotate-${endpoint.id}`,
      placeholder: provider.generates_secret ? "empty: the bridge generates one" : `paste the new secret from ${provider.label || provider.name}`,
    });
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      { class: "rotate", hidden: true, novalidate: true },
      h("label", { for: input.id }, "New secret"),
      h("div", { class: "copy-row" }, input, h("button", { type: "submit", class: "btn small primary" }, "Add")),
      error,
      h("p", { class: "hint" }, "Old secrets stay valid until removed, so the sender can switch over without failures."),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const answer = await this.context.api.addSecret(endpoint.id, input.value.trim());
        this.open.add(endpoint.id);
        this.endpoints.set(endpoint.id, answer.endpoint);
        this.render();
        const card = this.el.list.querySelector(`details[data-endpoint="${CSS.escape(endpoint.id)}"]`);
        if (card) card.querySelector(".ep-body").prepend(h("p", { class: "ok-text", role: "status" }, `Added secret ${answer.secret.id}.`));
      } catch (err) {
        error.textContent = errorText(err);
      }
    });
    if (provider.requires_secret === false) return null;
    const toggle = h("button", { type: "button", class: "btn small", "aria-expanded": "false" }, "Add secret (rotate)");
    toggle.addEventListener("click", () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) input.focus();
    });
    return h("div", { class: "rotate-box" }, toggle, form);
  }

  async create() {
    const { id, provider, secret, description, error } = this.el;
    error.textContent = "";
    const p = this.provider(provider.value);
    const body = { id: id.value.trim(), provider: provider.value };
    if (secret.value.trim()) body.secret = secret.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    const mask = this.el.mask.disabled ? [] : this.el.mask.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (mask.length) body.options = { mask };
    if (!body.id) {
      error.textContent = "id: give the endpoint an id, such as stripe-prod";
      id.focus();
      return;
    }
    if (p.requires_secret !== false && !p.generates_secret && !body.secret) {
      error.textContent = `secret: ${p.label || p.name} issues the secret; paste it here`;
      secret.focus();
      return;
    }
    try {
      const created = await this.context.api.createEndpoint(body);
      this.endpoints.set(created.id, created);
      this.open.add(created.id);
      this.render();
      this.el.form.reset();
      this.describeProvider();
      this.previewUrl();
      this.context.onCreated(created);
      this.context.onChange(this.sorted());
      const card = this.el.list.querySelector(`details[data-endpoint="${CSS.escape(created.id)}"]`);
      if (card) {
        card.scrollIntoView({ block: "nearest" });
        card.querySelector("summary").focus();
      }
    } catch (err) {
      error.textContent = errorText(err);
      const field = err.field && this.el[String(err.field).split(".")[0]];
      if (field && field.focus) field.focus();
    }
  }
}

function errorText(err) {
  return err.field ? `${err.field}: ${err.message}` : err.message;
}

function secretRow(endpoint, secret) {
  const value = h("code", { class: "secret masked" }, mask(secret.value));
  const reveal = h("button", { type: "button", class: "btn small", "aria-pressed": "false", "aria-label": `Reveal secret ${secret.id} of ${endpoint.id}` }, "Reveal");
  reveal.addEventListener("click", () => {
    const shown = reveal.getAttribute("aria-pressed") === "true";
    reveal.setAttribute("aria-pressed", String(!shown));
    reveal.textContent = shown ? "Reveal" : "Hide";
    value.textContent = shown ? mask(secret.value) : secret.value;
    value.classList.toggle("masked", shown);
  });
  return h(
    "li",
    {},
    h("span", { class: "secret-id" }, secret.id),
    value,
    h("span", { class: "secret-actions" }, reveal, copyButton("Copy", secret.value, { "aria-label": `Copy secret ${secret.id} of ${endpoint.id}` })),
  );
}

/** The mask paths in force: what every reader of this endpoint's events sees as "***". */
function maskList(endpoint) {
  const paths = endpoint.options && Array.isArray(endpoint.options.mask) ? endpoint.options.mask.map(String) : [];
  return [
    h("div", { class: "kv-label" }, `Masked (${paths.length})`),
    paths.length
      ? h("ul", { class: "mask-paths", "aria-label": `Masked paths of ${endpoint.id}` }, paths.map((path) => h("li", {}, h("code", {}, path))))
      : h("p", { class: "hint" }, "Nothing: bodies are shown as received."),
  ];
}

function mask(value) {
  return "•".repeat(Math.min(24, Math.max(8, String(value || "").length)));
}
