// Environments in promotion order (status, freeze, drift, current release, time to live),
// and one environment (its targets, deployments, diff against the next one, runs, DORA).

import { get, hasOperation } from "./api.js";
import { badge, failure, fill, h, span, when } from "./dom.js";
import { deploymentTable } from "./deployments.js";
import { doraPanel, doraPath } from "./dora.js";

/// The environments the matrix shows (active, not destroyed), in promotion order.
export function shownEnvironments(list) {
  return list
    .filter((e) => e.isActive && e.status !== "destroyed")
    .sort((a, b) => a.orderIndex - b.orderIndex || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/// A countdown to `iso` that the ticker below keeps current.
function countdown(iso) {
  return h("span", { class: "ttl", dataset: { expires: iso } }, ttlText(iso));
}

function ttlText(iso) {
  const left = Date.parse(iso) - Date.now();
  return left > 0 ? `expires in ${span(left)}` : "expired, being torn down";
}

setInterval(() => {
  for (const el of document.querySelectorAll("[data-expires]")) el.textContent = ttlText(el.dataset.expires);
}, 1000);

function freezeBanner(env) {
  if (!env.isFrozen) return null;
  const windows = env.activeFreezeWindows || [];
  const end = windows.map((w) => w.end).sort().at(-1);
  const reasons = windows.map((w) => w.reason).filter(Boolean).join("; ");
  return h("p", { class: "banner frozen", role: "note" }, "Frozen",
    end ? [" until ", when(end)] : null, reasons ? `: ${reasons}` : null);
}

function driftBadge(lines) {
  if (!lines) return null;
  if (!lines.length) return badge("no targets", "muted");
  const drifting = lines.filter((l) => l.hasDrift === true).length;
  const unknown = lines.filter((l) => l.hasDrift === null).length;
  if (drifting) return badge(`drift on ${drifting} of ${lines.length} targets`, "drift");
  if (unknown === lines.length) return badge("drift unknown", "muted");
  return badge("no drift", "ok");
}

export function environmentsView(root) {
  const list = h("div", { id: "environments" });
  fill(root, h("h1", {}, "Environments"), h("p", { class: "hint" }, "In promotion order."), list);
  return {
    async refresh() {
      try {
        const envs = await get("environments?sort=orderIndex&take=100&includeState=true");
        const drifts = await Promise.all(envs.data.map((e) => get(`environments/${e.id}/drift`).catch(() => null)));
        if (!envs.changed && !drifts.some((d) => d && d.changed)) return false;
        const ordered = [...envs.data].sort((a, b) => a.orderIndex - b.orderIndex || (a.name < b.name ? -1 : 1));
        const drift = new Map(envs.data.map((e, i) => [e.id, drifts[i] ? drifts[i].data : null]));
        fill(list, ordered.length
          ? h("ol", { class: "cards" }, ordered.map((env) => h("li", { class: "card", dataset: { environment: env.name } },
            h("h2", {}, h("a", { href: `#/environments/${env.id}` }, env.name)),
            env.displayName && env.displayName !== env.name ? h("p", { class: "muted" }, env.displayName) : null,
            h("p", {}, badge(env.status), " ", env.isProduction ? badge("production", "prod") : null, " ",
              env.isActive ? null : badge("inactive", "muted"), " ", driftBadge(drift.get(env.id))),
            freezeBanner(env),
            h("p", {}, "Release: ", env.currentRelease ? h("strong", {}, env.currentRelease.name) : h("span", { class: "muted" }, "none")),
            env.expiresAt ? h("p", {}, countdown(env.expiresAt)) : null)))
          : h("p", {}, "No environments yet."));
        return true;
      } catch (error) {
        fill(list, failure(error));
        throw error;
      }
    },
  };
}

function targetsTable(targets) {
  if (!targets.length) return h("p", { class: "muted" }, "No targets.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Target", "Type", "Health", "Last check"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, targets.map((t) => h("tr", {},
      h("th", { scope: "row" }, t.name), h("td", {}, t.targetType.replace(/_/g, " ")),
      h("td", {}, badge(t.healthStatus), t.healthMessage ? h("span", { class: "muted" }, ` ${t.healthMessage}`) : null),
      h("td", {}, when(t.lastHealthCheckAt))))));
}

function diffTable(diff, here, there) {
  if (!diff.components.length) return h("p", { class: "muted" }, `Nothing runs in ${here} or ${there}.`);
  return h("table", { class: "diff" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Component"), h("th", { scope: "col" }, here),
      h("th", { scope: "col" }, there), h("th", { scope: "col" }, "Compared"))),
    h("tbody", {}, diff.components.map((c) => h("tr", { class: `diff-${c.comparison}` },
      h("th", { scope: "row" }, c.componentName), h("td", {}, c.version ?? "—"), h("td", {}, c.againstVersion ?? "—"),
      h("td", {}, {
        onlyHere: `only in ${here}`, onlyThere: `only in ${there}`, differs: "differs", same: "same",
      }[c.comparison])))));
}

function runsList(runs) {
  const list = Array.isArray(runs) ? runs : runs.data || [];
  if (!list.length) return h("p", { class: "muted" }, "No runs.");
  return h("ol", { class: "runs" }, list.map((run) => h("li", {},
    h("strong", {}, run.workflow || run.name || run.id), " ", badge(run.status || "unknown"), " ",
    run.createdAt || run.startedAt ? when(run.startedAt || run.createdAt) : null,
    Array.isArray(run.steps) && run.steps.length
      ? h("ol", {}, run.steps.map((s) => h("li", {}, s.name || s.executable || "step", " ", badge(s.status || "unknown"))))
      : null)));
}

export function environmentView(root, id) {
  const parts = {
    head: h("div", {}), targets: h("div", {}), deployments: h("div", {}), diff: h("div", {}),
    runs: h("div", {}), dora: h("div", {}),
  };
  fill(root,
    parts.head,
    h("section", { "aria-labelledby": "targets-title" }, h("h2", { id: "targets-title" }, "Targets"), parts.targets),
    h("section", { "aria-labelledby": "diff-title" }, h("h2", { id: "diff-title" }, "Against the next environment"), parts.diff),
    h("section", { "aria-labelledby": "deployments-title" }, h("h2", { id: "deployments-title" }, "Deployments"), parts.deployments),
    parts.runs,
    h("section", { "aria-labelledby": "dora-title" }, h("h2", { id: "dora-title" }, "DORA, last 30 days"), parts.dora));
  let runsKnown = null;
  return {
    async refresh() {
      try {
        if (runsKnown === null) runsKnown = await hasOperation(/^\/api\/v1\/environments\/\{[^}]+\}\/runs$/);
        const [env, all, targets, deployments, dora, components] = await Promise.all([
          get(`environments/${id}`),
          get("environments?sort=orderIndex&take=100"),
          get(`targets?environmentId=${id}&take=100`),
          get(`deployments?environmentId=${id}&take=20`),
          get(doraPath(id)),
          get("catalog/components?take=100"),
        ]);
        const ordered = shownEnvironments(all.data);
        const place = ordered.findIndex((e) => e.id === id);
        const next = place >= 0 ? ordered[place + 1] : null;
        const diff = next ? await get(`environments/${id}/diff?against=${next.id}`) : null;
        const runs = runsKnown ? await get(`environments/${id}/runs`) : null;
        const changed = [env, all, targets, deployments, dora, components, diff, runs].some((r) => r && r.changed);
        if (!changed) return false;
        const e = env.data;
        fill(parts.head,
          h("h1", {}, e.name, " ", badge(e.status), e.isProduction ? [" ", badge("production", "prod")] : null),
          e.description ? h("p", {}, e.description) : null,
          freezeBanner(e),
          h("p", {}, "Release: ", e.currentRelease ? h("strong", {}, e.currentRelease.name) : h("span", { class: "muted" }, "none"),
            e.expiresAt ? [" · ", countdown(e.expiresAt)] : null,
            ` · ${e.requiredApprovals} approval(s) required · promotion ${e.promotionPolicy}`));
        fill(parts.targets, targetsTable(targets.data));
        fill(parts.diff, next ? diffTable(diff.data, e.name, next.name) : h("p", { class: "muted" }, "This is the last environment in promotion order."));
        const names = new Map(components.data.data.map((c) => [c.id, c.name]));
        const envNames = new Map(all.data.map((x) => [x.id, x.name]));
        fill(parts.deployments, deploymentTable(deployments.data.data, names, envNames));
        fill(parts.runs, runs ? h("section", { "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title" }, "Runs"), runsList(runs.data)) : null);
        fill(parts.dora, doraPanel(dora.data));
        return true;
      } catch (error) {
        fill(parts.head, failure(error));
        throw error;
      }
    },
  };
}
