// Building the page from data without ever parsing it as HTML: text goes in as text.

/// An element: h("td", {class: "x"}, "text", child, ...). Attributes starting with "on" are
/// listeners; null/false attributes and children are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/// Replaces the children of `el`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/// "3 d", "5 h", "12 min", "now" for a duration in milliseconds.
export function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/// "5 h ago" for a time.
export function ago(iso, now = Date.now()) {
  return `${span(now - Date.parse(iso))} ago`;
}

/// A time as the reader's locale writes it, in a <time> element.
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

/// A status badge.
export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text.replace(/_/g, " "));
}

/// A problem shown where the data would have been.
export function failure(error) {
  return h("p", { class: "error", role: "alert" }, `Could not load: ${error.message}`);
}
