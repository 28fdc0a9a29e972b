// Webhook Bridge dashboard: sign-in (token from the #token= link or the form, kept in
// sessionStorage), then the Dashboard. Plain ES modules, no build step. Data from webhooks is
// only ever set as text (see dom.js).

import { Api, subscriberClaims } from "./api.js";
import { Dashboard } from "./dashboard.js";
import { $, fill } from "./dom.js";

const TOKEN_KEY = "webhook-bridge.token";
const CHANNELS_KEY = "webhook-bridge.channels";

// -- sign-in ------------------------------------------------------------------------------

let current = null;

function takeFragmentToken() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const token = params.get("token");
  if (token === null) return null;
  // The token must not stay in the address bar, the history or a bookmark.
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return token;
}

function showLogin(message = "") {
  $("#app-view").hidden = true;
  $("#login-view").hidden = false;
  $("#logout").hidden = true;
  $("#login-error").textContent = message;
  $("#conn").dataset.state = "idle";
  $("#conn-text").textContent = "Not connected";
  $("#retry").hidden = true;
  fill($("#who"));
  $("#login-token").focus();
}

function signOut(message = "") {
  if (current) current.stop();
  current = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(CHANNELS_KEY);
  fill($("#banners"));
  showLogin(message);
}

async function signIn(token, channels) {
  token = token.trim();
  if (!token) return showLogin("Paste a token.");
  let mode = "admin";
  const claims = subscriberClaims(token);
  if (channels.length || claims) {
    mode = "subscriber";
    if (!channels.length) channels = claims.channels;
    if (claims && claims.expiresAt && claims.expiresAt < Date.now()) {
      return showLogin("This subscriber token has expired: mint a new one with `bridge token`.");
    }
    if (!channels.length) return showLogin("Name the channels this subscriber token may read.");
  } else {
    try {
      await new Api(token).call("GET", "/api/endpoints");
    } catch (err) {
      const text = err.status === 401
        ? "This is not the admin token. For a subscriber token, also name its channels."
        : `Could not reach the bridge: ${err.message}`;
      return showLogin(text);
    }
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(CHANNELS_KEY, JSON.stringify(mode === "subscriber" ? channels : []));
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#logout").hidden = false;
  if (current) current.stop();
  current = new Dashboard(token, mode, channels, signOut);
  await current.start();
  return undefined;
}

function boot() {
  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const channels = $("#login-channels").value.split(",").map((c) => c.trim()).filter(Boolean);
    const token = $("#login-token").value;
    $("#login-token").value = "";
    signIn(token, channels);
  });
  $("#logout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", () => {
    const token = takeFragmentToken(); // the link opened again in this same tab
    if (token) signIn(token, []);
  });
  const fromLink = takeFragmentToken();
  if (fromLink) return signIn(fromLink, []);
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) {
    let channels = [];
    try {
      channels = JSON.parse(sessionStorage.getItem(CHANNELS_KEY) || "[]");
    } catch {
      channels = [];
    }
    return signIn(stored, Array.isArray(channels) ? channels : []);
  }
  showLogin();
  return undefined;
}

boot();
