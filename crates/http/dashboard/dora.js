// The DORA measures of each environment over the last 30 days.

import { get } from "./api.js";
import { failure, fill, h, span } from "./dom.js";
import { shownEnvironments } from "./environments.js";

/// The query of the last 30 days for `environmentId`, its end at the next whole minute so
/// that polls within a minute ask the same question (and get a 304).
export function doraPath(environmentId) {
  const to = new Date(Math.ceil((Date.now() + 1) / 60_000) * 60_000);
  const from = new Date(to.getTime() - 30 * 86_400_000);
  return `insights/dora?environmentId=${environmentId}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
}

const duration = (seconds) => (seconds === null || seconds === undefined ? "—" : span(seconds * 1000));

/// The four measures of one environment, as a definition list.
export function doraPanel(m) {
  const rate = m.changeFailureRate.rate;
  return h("dl", { class: "dora" },
    h("div", {}, h("dt", {}, "Deployment frequency"),
      h("dd", {}, `${m.deploymentFrequency.perDay.toFixed(2)} per day`, h("small", {}, `${m.deploymentFrequency.succeeded} succeeded`))),
    h("div", {}, h("dt", {}, "Lead time for changes"),
      h("dd", {}, `median ${duration(m.leadTime.medianSeconds)}`, h("small", {}, `p90 ${duration(m.leadTime.p90Seconds)} · ${m.leadTime.measured} measured`))),
    h("div", {}, h("dt", {}, "Change failure rate"),
      h("dd", {}, rate === null ? "—" : `${Math.round(rate * 100)} %`, h("small", {}, `${m.changeFailureRate.failed} of ${m.changeFailureRate.finished} finished`))),
    h("div", {}, h("dt", {}, "Time to restore"),
      h("dd", {}, `median ${duration(m.timeToRestore.medianSeconds)}`, h("small", {}, `${m.timeToRestore.restored} of ${m.timeToRestore.incidents} incidents restored`))));
}

export function doraView(root) {
  const body = h("div", { id: "dora" });
  fill(root, h("h1", {}, "DORA measures"), h("p", { class: "hint" }, "Deployments recorded in the last 30 days, per environment."), body);
  return {
    async refresh() {
      try {
        const envs = await get("environments?sort=orderIndex&take=100");
        const shown = shownEnvironments(envs.data);
        const measures = await Promise.all(shown.map((e) => get(doraPath(e.id))));
        if (!envs.changed && !measures.some((m) => m.changed)) return false;
        fill(body, shown.length ? shown.map((e, i) => h("section", { class: "card", "aria-labelledby": `dora-${e.id}` },
          h("h2", { id: `dora-${e.id}` }, h("a", { href: `#/environments/${e.id}` }, e.name)), doraPanel(measures[i].data)))
          : h("p", {}, "No environments yet."));
        return true;
      } catch (error) {
        fill(body, failure(error));
        throw error;
      }
    },
  };
}
