// Building DOM nodes from data, never from HTML strings.
//
// Every string that reaches the page (a user's message, a model's answer, a tool's result, a
// document's text) becomes a Text node or an attribute value set through the DOM API, so markup
// inside it is shown, not run. `innerHTML` is not used anywhere in the console.

const SVG_NS = "http://www.w3.org/2000/svg";

// Attributes that would turn a string into code or navigation are refused outright.
const FORBIDDEN_ATTRIBUTE = /^(on|style$|srcdoc$|formaction$)/i;

function setProps(node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) node.dataset[name] = String(data);
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value" && "value" in node) {
      node.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled" || key === "open") {
      node[key] = Boolean(value);
    } else if (FORBIDDEN_ATTRIBUTE.test(key)) {
      throw new Error(`refusing to set attribute ${key}`);
    } else if ((key === "href" || key === "src") && !safeUrl(String(value))) {
      throw new Error(`refusing a ${key} that is not http(s), relative, blob: or data:image`);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: `h("button", {class: "primary", onClick}, "Send")`. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  return append(node, children);
}

/** An SVG element, for charts. */
export function s(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2).toLowerCase(), value);
    else if (FORBIDDEN_ATTRIBUTE.test(key)) throw new Error(`refusing to set attribute ${key}`);
    else node.setAttribute(key, String(value));
  }
  return append(node, children);
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function replace(node, ...children) {
  clear(node);
  return append(node, children);
}

/** Whether a URL may be linked: http(s), a path on this site, blob:, or an inline image. */
export function safeUrl(url) {
  if (url.startsWith("/") && !url.startsWith("//")) return true;
  if (url.startsWith("#")) return true;
  try {
    const parsed = new URL(url, window.location.origin);
    if (parsed.protocol === "blob:") return true;
    if (parsed.protocol === "data:") return /^data:image\/(png|jpeg|gif|webp);/i.test(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "id") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: the label's `for` points at the control. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid("field");
  const hintNode = hint ? h("small", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintNode);
}

/** Announce a short message to screen readers and show it briefly. */
export function toast(message, kind = "info") {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  const item = h("div", { class: ["toast", kind] }, message);
  region.append(item);
  setTimeout(() => item.remove(), 5000);
}
