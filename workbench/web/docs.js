// The service's docs page: renders the HTTP routes of /openapi.json (fetched with the page's own
// ?token= as a Bearer header); the websocket protocols are written in docs.html.
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const status = document.getElementById("status");

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes);
  node.append(...children);
  return node;
}

function table(head, rows) {
  const node = element("table");
  node.append(element("tr", {}, ...head.map((cell) => element("th", {}, cell))));
  for (const row of rows) node.append(element("tr", {}, ...row.map((cell) => element("td", {}, cell))));
  return node;
}

function schemaText(schema = {}) {
  if (schema.enum) return schema.enum.join(" | ");
  const range = schema.minimum !== undefined ? ` ${schema.minimum}..${schema.maximum}` : "";
  return `${schema.type || "object"}${range}`;
}

function operation(path, method, spec) {
  const node = element("div", { className: "wb-operation" });
  node.dataset.route = `${method.toUpperCase()} ${path}`;
  node.append(element("h3", {}, element("span", { className: `method ${method}` }, method.toUpperCase()),
                      element("span", { className: "route" }, path)));
  node.append(element("p", {}, element("strong", {}, spec.summary || ""), spec.description ? `: ${spec.description}` : ""));
  if (spec.parameters?.length) {
    node.append(table(["query parameter", "values", "meaning"],
                      spec.parameters.map((p) => [p.name, schemaText(p.schema), p.description || ""])));
  }
  const body = spec.requestBody?.content;
  if (body) {
    node.append(table(["request body", "schema"], Object.entries(body).map(([type, content]) => [
      type, Object.entries(content.schema?.properties || {}).map(([name, s]) => `${name}: ${schemaText(s)}`).join(", ")
            || schemaText(content.schema)])));
  }
  node.append(table(["status", "answer"], Object.entries(spec.responses || {}).map(([code, r]) => [code, r.description])));
  return node;
}

async function main() {
  if (token) {
    for (const id of ["page-link"]) {
      const link = document.getElementById(id);
      link.href = `${link.getAttribute("href")}?token=${encodeURIComponent(token)}`;
    }
  }
  const answer = await fetch("/openapi.json", { headers });
  if (!answer.ok) throw new Error(`/openapi.json answered ${answer.status}`);
  const schema = await answer.json();
  const operations = document.getElementById("operations");
  for (const [path, methods] of Object.entries(schema.paths).sort()) {
    for (const [method, spec] of Object.entries(methods)) operations.append(operation(path, method, spec));
  }
  status.textContent = `${schema.info.title} ${schema.info.version}: ${operations.children.length} HTTP routes`;
}

main().catch((error) => { status.textContent = String(error); status.className = "error"; });
