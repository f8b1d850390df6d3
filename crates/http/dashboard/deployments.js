// The deployments feed with its filters, and one deployment with its gates ("can I deploy
// now, and why not") and its history.

import { get } from "./api.js";
import { ago, badge, failure, fill, h, when } from "./dom.js";

const STATUSES = ["pending", "in_progress", "succeeded", "failed", "rolled_back"];

/// A table of deployments, newest first.
export function deploymentTable(list, componentNames, environmentNames) {
  if (!list.length) return h("p", { class: "muted" }, "No deployments.");
  return h("table", { class: "feed" },
    h("thead", {}, h("tr", {}, ["Deployment", "Component", "Environment", "Status", "By", "Recorded"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((d) => h("tr", { dataset: { deployment: d.id } },
      h("th", { scope: "row" }, h("a", { href: `#/deployments/${d.id}` }, d.version)),
      h("td", {}, componentNames.get(d.componentId) || d.componentId),
      h("td", {}, environmentNames.get(d.environmentId) || d.environmentId),
      h("td", {}, badge(d.status)),
      h("td", {}, d.deployedBy),
      h("td", {}, h("span", { title: d.createdAt }, ago(d.createdAt)))))));
}

function select(id, label, options) {
  return [h("label", { for: id }, label),
    h("select", { id, name: id }, h("option", { value: "" }, "any"), options.map(([value, text]) => h("option", { value }, text)))];
}

export function deploymentsView(root) {
  const filters = h("form", { class: "controls", id: "filters", onsubmit: (e) => e.preventDefault() });
  const feed = h("div", { id: "feed", class: "scroll" });
  fill(root, h("h1", {}, "Deployments"), filters, feed);
  let filled = false;
  let lastQuery = null;
  const view = {
    async refresh() {
      try {
        const [envs, components] = await Promise.all([get("environments?sort=orderIndex&take=100"), get("catalog/components?take=100")]);
        if (!filled) {
          fill(filters,
            select("f-environment", "Environment", envs.data.map((e) => [e.id, e.name])),
            select("f-component", "Component", components.data.data.map((c) => [c.id, c.name])),
            select("f-status", "Status", STATUSES.map((s) => [s, s.replace(/_/g, " ")])));
          filters.addEventListener("change", () => view.refresh());
          filled = true;
        }
        const params = new URLSearchParams({ take: "50" });
        const value = (id) => document.getElementById(id)?.value;
        if (value("f-environment")) params.set("environmentId", value("f-environment"));
        if (value("f-component")) params.set("componentId", value("f-component"));
        if (value("f-status")) params.set("status", value("f-status"));
        const query = params.toString();
        const page = await get(`deployments?${query}`);
        if (!page.changed && !envs.changed && !components.changed && lastQuery === query) return false;
        lastQuery = query;
        const names = new Map(components.data.data.map((c) => [c.id, c.name]));
        const envNames = new Map(envs.data.map((e) => [e.id, e.name]));
        fill(feed, h("p", { class: "muted" }, `${page.data.total} matching, newest first`),
          deploymentTable(page.data.data, names, envNames));
        return true;
      } catch (error) {
        fill(feed, failure(error));
        throw error;
      }
    },
  };
  return view;
}

export function deploymentView(root, id) {
  const body = h("div", {});
  fill(root, body);
  return {
    async refresh() {
      try {
        const [d, gates, history] = await Promise.all([
          get(`deployments/${id}`), get(`deployments/${id}/gates`), get(`deployments/${id}/history`),
        ]);
        if (!d.changed && !gates.changed && !history.changed) return false;
        const x = d.data;
        const [component, env] = await Promise.all([
          get(`catalog/components/${x.componentId}`).catch(() => null),
          get(`environments/${x.environmentId}`).catch(() => null),
        ]);
        const allPass = gates.data.every((g) => g.passed);
        fill(body,
          h("h1", {}, `${component ? component.data.name : "component"} ${x.version} `, badge(x.status)),
          h("p", {}, "Into ", env ? h("a", { href: `#/environments/${env.data.id}` }, env.data.name) : x.environmentId,
            ` · by ${x.deployedBy} · recorded `, when(x.createdAt),
            x.finishedAt ? [" · finished ", when(x.finishedAt)] : null,
            x.commitSha ? ` · commit ${x.commitSha}` : null),
          x.description ? h("p", {}, x.description) : null,
          h("section", { "aria-labelledby": "gates-title" },
            h("h2", { id: "gates-title" }, "Gates"),
            h("p", { class: allPass ? "banner ok" : "banner frozen" },
              allPass ? "Every gate passes: it can start now." : "It cannot start now:"),
            h("ul", { class: "gates" }, gates.data.map((g) => h("li", { class: g.passed ? "pass" : "fail" },
              h("strong", {}, g.gate), " ", badge(g.passed ? "passes" : "refuses", g.passed ? "ok" : "failed"), " ", g.reason)))),
          h("section", { "aria-labelledby": "history-title" },
            h("h2", { id: "history-title" }, "History"),
            h("ol", {}, history.data.map((e) => h("li", {}, when(e.at), " ", e.from ? `${e.from.replace(/_/g, " ")} → ` : "recorded as ",
              e.to.replace(/_/g, " "), e.reason ? ` (${e.reason})` : null)))));
        return true;
      } catch (error) {
        fill(body, failure(error));
        throw error;
      }
    },
  };
}
