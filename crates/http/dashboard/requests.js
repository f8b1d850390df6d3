// Pending environment requests, with approve and reject for admins (the API decides: a
// refusal is shown as it answers).

import { claims, get, send } from "./api.js";
import { ago, badge, failure, fill, h } from "./dom.js";

export function requestsView(root) {
  const list = h("div", { id: "requests" });
  const note = h("p", { class: "status-line", role: "status", "aria-live": "polite", id: "request-note" });
  fill(root, h("h1", {}, "Pending environment requests"), note, list);
  const roles = claims()?.roles;
  // A secret that is not a JWT: roles unknown, the buttons show and the API decides.
  const admin = !roles || roles.includes("admin");
  const view = {
    async refresh(force = false) {
      try {
        const page = await get("environment-requests?status=pending&take=100");
        if (!page.changed && !force) return false;
        const rows = page.data.data;
        fill(list, rows.length ? h("table", {},
          h("thead", {}, h("tr", {}, ["Request", "Type", "Tier", "Requested", admin ? "Review" : null]
            .filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows.map((r) => h("tr", { dataset: { request: r.name } },
            h("th", { scope: "row" }, r.name, r.description ? h("span", { class: "muted" }, ` ${r.description}`) : null),
            h("td", {}, r.type || r.environmentType, r.ttlHours ? ` (${r.ttlHours} h)` : null),
            h("td", {}, r.tier),
            h("td", {}, h("span", { title: r.createdAt }, ago(r.createdAt)), " ", badge(r.status)),
            admin ? h("td", { class: "actions" },
              h("button", { type: "button", onclick: () => review(r, "approve") }, "Approve ", h("span", { class: "visually-hidden" }, r.name)),
              h("button", { type: "button", class: "secondary", onclick: () => review(r, "reject") }, "Reject ", h("span", { class: "visually-hidden" }, r.name)))
              : null))))
          : h("p", {}, "No pending requests."));
        return true;
      } catch (error) {
        fill(list, failure(error));
        throw error;
      }
    },
  };
  async function review(request, action) {
    try {
      const done = await send("POST", `environment-requests/${request.id}/${action}`);
      note.textContent = `${request.name}: ${action === "approve" ? "approved" : "rejected"} (now ${done.status}).`;
    } catch (error) {
      note.textContent = `${request.name}: ${error.message}`;
    }
    await view.refresh(true);
  }
  return view;
}
