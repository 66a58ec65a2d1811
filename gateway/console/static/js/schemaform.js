// A form generated from a JSON Schema object (a tool's input schema): one labelled control per
// property, typed by the schema (text with its pattern, number within its bounds, a choice for an
// enum, a date, a checkbox, lines for a list of strings, JSON for anything else).

import { field, h, uid } from "./dom.js";
import { t } from "./i18n.js";

function control(name, schema, id) {
  const type = Array.isArray(schema.type) ? schema.type.find((x) => x !== "null") : schema.type;
  if (Array.isArray(schema.enum)) {
    return {
      node: h("select", { id, name }, h("option", { value: "" }, "–"), schema.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v)))),
      read: (node) => (node.value === "" ? undefined : JSON.parse(node.value)),
    };
  }
  if (type === "integer" || type === "number") {
    const input = h("input", {
      id,
      name,
      type: "number",
      step: type === "integer" ? 1 : "any",
      min: schema.minimum,
      max: schema.maximum,
      inputmode: "decimal",
    });
    return { node: input, read: (node) => (node.value === "" ? undefined : Number(node.value)) };
  }
  if (type === "boolean") {
    return { node: h("input", { id, name, type: "checkbox" }), read: (node) => node.checked };
  }
  if (type === "array" && schema.items && schema.items.type === "string") {
    return {
      node: h("textarea", { id, name, rows: 3, placeholder: t("schema.onePerLine") }),
      read: (node) => {
        const items = node.value.split("\n").map((line) => line.trim()).filter(Boolean);
        return items.length ? items : undefined;
      },
    };
  }
  if (type === "string" || type === undefined) {
    const input = h("input", {
      id,
      name,
      type: schema.format === "date" ? "date" : "text",
      maxlength: schema.maxLength,
      placeholder: schema.examples?.[0] !== undefined ? String(schema.examples[0]) : "",
    });
    return { node: input, read: (node) => (node.value === "" ? undefined : node.value) };
  }
  const area = h("textarea", { id, name, rows: 3, class: "code", placeholder: type === "array" ? "[ … ]" : "{ … }" });
  return {
    node: area,
    read: (node) => {
      if (!node.value.trim()) return undefined;
      try {
        return JSON.parse(node.value);
      } catch (error) {
        throw new Error(t("schema.invalidJson", { field: name, problem: error.message }));
      }
    },
  };
}

/** `{element, value()}`: the form, and the arguments it holds (unfilled optional fields left out). */
export function schemaForm(schema) {
  const properties = schema?.properties || {};
  const required = new Set(schema?.required || []);
  const controls = [];
  const element = h("div", { class: "schema-form" });
  for (const [name, property] of Object.entries(properties)) {
    const id = uid(`arg-${name}`);
    const { node, read } = control(name, property || {}, id);
    if (required.has(name)) node.setAttribute("aria-required", "true");
    const text = `${name}${required.has(name) ? " *" : ""}`;
    const hint = [property?.description, property?.pattern ? t("schema.pattern", { pattern: property.pattern }) : null].filter(Boolean).join(" · ");
    element.append(field(text, node, hint || null));
    controls.push({ name, node, read });
  }
  if (!controls.length) element.append(h("p", { class: "muted" }, t("schema.noArguments")));
  return {
    element,
    value() {
      const values = {};
      for (const { name, node, read } of controls) {
        const value = read(node);
        if (value !== undefined) values[name] = value;
      }
      return values;
    },
  };
}
