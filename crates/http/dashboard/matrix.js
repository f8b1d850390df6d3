// The matrix: components down, environments across in promotion order, the version running
// in each cell, coloured by age; deployments in progress and rollbacks marked. A slider
// travels back in time (asOf).

import { get } from "./api.js";
import { ago, failure, fill, h, span } from "./dom.js";
import { shownEnvironments } from "./environments.js";

// How far back the slider reaches, and in how many steps.
const SPANS = [
  ["600", "last 10 minutes"],
  ["3600", "last hour"],
  ["86400", "last day"],
  ["604800", "last 7 days"],
  ["2592000", "last 30 days"],
  ["31536000", "last year"],
];
const STEPS = 600;

function ageClass(ms) {
  const days = ms / 86_400_000;
  if (days < 1) return "age-day";
  if (days < 7) return "age-week";
  if (days < 30) return "age-month";
  return "age-old";
}

export function matrixView(root) {
  // The time shown: null for now. Moving the slider fixes a time (so polls keep asking
  // about the same moment, and a 304 answers them until the past changes).
  let asOf = null;
  const label = h("output", { id: "as-of-label", for: "as-of" }, "now");
  const spanSelect = h("select", { id: "as-of-span" },
    SPANS.map(([value, text]) => h("option", { value, selected: value === "2592000" }, text)));
  const slider = h("input", {
    type: "range",
    id: "as-of",
    min: -STEPS,
    max: 0,
    step: 1,
    value: 0,
    "aria-describedby": "as-of-label",
  });
  const nowButton = h("button", { type: "button", id: "as-of-now" }, "Back to now");
  const table = h("div", { class: "scroll", id: "matrix" });
  fill(
    root,
    h("h1", {}, "Deployment matrix"),
    h(
      "form",
      { class: "controls", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "as-of" }, "Time travel"),
      slider,
      h("label", { for: "as-of-span", class: "visually-hidden" }, "Slider reaches back over the"),
      spanSelect,
      label,
      nowButton,
    ),
    h("p", { class: "legend" },
      "Colour: ", h("span", { class: "swatch age-day" }, "< 1 day"), " ",
      h("span", { class: "swatch age-week" }, "< 1 week"), " ",
      h("span", { class: "swatch age-month" }, "< 30 days"), " ",
      h("span", { class: "swatch age-old" }, "older"), " · ",
      h("span", { class: "mark mark-progress" }, "deploying"), " ",
      h("span", { class: "mark mark-rolled-back" }, "rolled back")),
    table,
  );

  let timer = null;
  let last = null;
  let seq = 0;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => view.refresh(true), 120);
  };
  const move = () => {
    const back = -Number(slider.value) * (Number(spanSelect.value) / STEPS) * 1000;
    asOf = back === 0 ? null : new Date(Date.now() - back);
    label.textContent = asOf ? `${asOf.toLocaleString()} (${span(back)} ago)` : "now";
    reload();
  };
  slider.addEventListener("input", move);
  slider.addEventListener("change", move);
  spanSelect.addEventListener("change", () => {
    slider.value = 0;
    move();
  });
  nowButton.addEventListener("click", () => {
    slider.value = 0;
    move();
  });

  const view = {
    async refresh(force = false) {
      // A slower answer about an earlier moment must not overwrite a newer one.
      const mine = ++seq;
      const shown = asOf;
      const path = shown ? `deployments/matrix?asOf=${encodeURIComponent(shown.toISOString())}` : "deployments/matrix";
      try {
        const [matrix, envs, running, rolledBack] = await Promise.all([
          get(path),
          get("environments?sort=orderIndex&take=100"),
          get("deployments?status=in_progress&take=100"),
          get("deployments?status=rolled_back&take=100"),
        ]);
        const key = `${path}`;
        const changed = [matrix, envs, running, rolledBack].some((r) => r.changed);
        if (mine !== seq || (!changed && !force && last === key)) return false;
        last = key;
        render(table, matrix.data, shownEnvironments(envs.data), shown ? [] : running.data.data, shown ? [] : rolledBack.data.data, shown);
        return true;
      } catch (error) {
        fill(table, failure(error));
        throw error;
      }
    },
  };
  return view;
}

function render(root, rows, environments, running, rolledBack, asOf) {
  const now = asOf ? asOf.getTime() : Date.now();
  const byCell = (list) => {
    const map = new Map();
    for (const d of list) {
      const k = `${d.componentId}/${d.environmentId}`;
      if (!map.has(k)) map.set(k, d);
    }
    return map;
  };
  const deploying = byCell(running);
  const rolled = byCell(rolledBack);
  if (!rows.length) {
    fill(root, h("p", {}, "No components yet. Add one with POST /api/v1/catalog/components."));
    return;
  }
  const head = h("tr", {}, h("th", { scope: "col" }, "Component"),
    environments.map((e) => h("th", { scope: "col" }, h("a", { href: `#/environments/${e.id}` }, e.name),
      e.isProduction ? h("span", { class: "tag" }, "prod") : null)));
  const body = rows.map((row) =>
    h("tr", {}, h("th", { scope: "row" }, row.componentName),
      environments.map((env) => {
        const cell = row.environments[env.name];
        const k = `${row.componentId}/${env.id}`;
        const progress = deploying.get(k);
        const back = rolled.get(k);
        const wasRolledBack = back && (!cell || Date.parse(back.updatedAt) > Date.parse(cell.deployedAt));
        const classes = ["cell"];
        if (cell) classes.push(ageClass(now - Date.parse(cell.deployedAt)));
        else classes.push("empty");
        if (progress) classes.push("cell-progress");
        if (wasRolledBack) classes.push("cell-rolled-back");
        return h("td", { class: classes.join(" "), dataset: { component: row.componentName, environment: env.name } },
          cell ? [h("span", { class: "version" }, cell.version), h("span", { class: "age", title: cell.deployedAt }, ago(cell.deployedAt, now))]
            : h("span", { class: "none" }, "—", h("span", { class: "visually-hidden" }, "not deployed")),
          progress ? h("a", { class: "mark mark-progress", href: `#/deployments/${progress.id}` }, `deploying ${progress.version}`) : null,
          wasRolledBack ? h("a", { class: "mark mark-rolled-back", href: `#/deployments/${back.id}` }, `${back.version} rolled back`) : null);
      })));
  fill(root, h("table", { class: "matrix" },
    h("caption", {}, asOf ? `As of ${asOf.toLocaleString()}` : "Now"),
    h("thead", {}, head), h("tbody", {}, body)));
}
