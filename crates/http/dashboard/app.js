// The dashboard's shell: sign in and out, the views by URL hash, and a poll that keeps the
// shown view up to date (every POLL_MS, conditional requests: nothing re-renders unless the
// API answered something new).

import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { matrixView } from "./matrix.js";
import { environmentsView, environmentView } from "./environments.js";
import { deploymentsView, deploymentView } from "./deployments.js";
import { requestsView } from "./requests.js";
import { doraView } from "./dora.js";

const POLL_MS = 2500;

const routes = [
  [/^#\/matrix$/, () => matrixView],
  [/^#\/environments$/, () => environmentsView],
  [/^#\/environments\/([0-9a-f-]{36})$/, () => environmentView],
  [/^#\/deployments$/, () => deploymentsView],
  [/^#\/deployments\/([0-9a-f-]{36})$/, () => deploymentView],
  [/^#\/requests$/, () => requestsView],
  [/^#\/dora$/, () => doraView],
];

const $ = (id) => document.getElementById(id);
let current = null; // {view, refresh}
let polling = null;
let busy = false;

function say(text) {
  $("status").textContent = text;
}

function showSignIn(message = "") {
  current = null;
  $("sign-in").hidden = false;
  $("nav").hidden = true;
  $("session").hidden = true;
  fill($("view"));
  $("sign-in-error").textContent = message;
  $("token").focus();
}

function describeSession() {
  const claims = api.claims();
  if (!claims) return "Signed in with a secret";
  const roles = (claims.roles || []).join(", ") || "no roles";
  return `Signed in as ${claims.sub} (${roles})`;
}

async function refresh() {
  if (!current || busy) return;
  busy = true;
  try {
    const changed = await current.refresh();
    const time = new Date().toLocaleTimeString();
    say(changed ? `Updated at ${time}` : `Up to date, checked at ${time}`);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) {
      api.signOut();
      showSignIn("The token was refused (401): it may have expired. Paste another.");
    } else {
      say(`Could not refresh: ${error.message}`);
    }
  } finally {
    busy = false;
  }
}

async function route() {
  if (!api.token()) {
    showSignIn();
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("session").hidden = false;
  $("who").textContent = describeSession();
  if (!location.hash || location.hash === "#") {
    location.replace("#/matrix");
    return;
  }
  let found = null;
  for (const [pattern, view] of routes) {
    const match = location.hash.match(pattern);
    if (match) found = { view: view(), params: match.slice(1) };
  }
  const root = $("view");
  for (const link of document.querySelectorAll("#nav a")) {
    const active = location.hash.startsWith(`#/${link.dataset.view}`);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!found) {
    fill(root, h("h1", {}, "Not found"), h("p", {}, "No view at this address. ", h("a", { href: "#/matrix" }, "Back to the matrix")));
    current = null;
    return;
  }
  fill(root);
  current = found.view(root, ...found.params);
  await refresh();
}

function start() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    api.signIn(value);
    $("token").value = "";
    route().then(() => $("main").focus());
  });
  $("sign-out").addEventListener("click", () => {
    api.signOut();
    say("Signed out");
    showSignIn();
  });
  window.addEventListener("hashchange", () => route().then(() => $("main").focus()));
  polling = setInterval(refresh, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  route();
}

start();
