"""The API's documentation page at ``/docs``: the OpenAPI document rendered on the server as
plain HTML (no script, nothing loaded from another host; Swagger UI would come from a CDN).
The machine-readable document is at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

METHODS = ("get", "post", "put", "patch", "delete")

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:1.6rem 0 .3rem}
code,.path{font-family:ui-monospace,monospace}.m{display:inline-block;min-width:4.2rem;
font-weight:700;text-transform:uppercase}.get{color:#1565c0}.post{color:#2e7d32}
.delete{color:#c62828}table{border-collapse:collapse;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
.muted{color:#666}
"""


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = str(schema.get("type", ""))
    limits = [f"{k} {schema[k]}" for k in ("minimum", "exclusiveMinimum", "maximum",
                                            "exclusiveMaximum", "pattern") if k in schema]
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _parameters(params: list[dict[str, Any]]) -> Markup:
    if not params:
        return Markup("")
    rows = Markup("").join(
        Markup("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
               ).format(p.get("name", ""), p.get("in", ""),
                        "required" if p.get("required") else "",
                        _type(p.get("schema", {})), p.get("description", ""))
        for p in params)
    return Markup("<table><tr><th>parameter</th><th>in</th><th></th><th>type</th>"
                  "<th>meaning</th></tr>{}</table>").format(rows)


def _body_schema(op: dict[str, Any], schemas: dict[str, Any]) -> Markup:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return Markup("")
    ref = str(content.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
    schema = schemas.get(ref, {})
    required = set(schema.get("required", []))
    rows = Markup("").join(
        Markup("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            name, "required" if name in required else "", _type(prop),
            prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items())
    return Markup("<p>JSON body <code>{}</code>:</p><table>{}</table>").format(ref, rows)


def _operation(path: str, method: str, op: dict[str, Any], schemas: dict[str, Any]) -> Markup:
    codes = ", ".join(sorted(op.get("responses", {})))
    secured = Markup(' <span class="muted">(Authorization: Bearer token)</span>') if op.get(
        "security") else Markup("")
    return Markup(
        '<h2><span class="m {m}">{m}</span> <span class="path">{path}</span>{secured}</h2>'
        "<p>{summary}</p><p class=\"muted\">{description}</p>{params}{body}"
        '<p class="muted">responses: {codes}</p>'
    ).format(m=method, path=path, secured=secured, summary=op.get("summary", ""),
             description=op.get("description", ""),
             params=_parameters(op.get("parameters", [])), body=_body_schema(op, schemas),
             codes=codes)


def docs_html(openapi: dict[str, Any]) -> str:
    """The page for an OpenAPI document; every string from it is escaped."""
    info = openapi.get("info", {})
    schemas = openapi.get("components", {}).get("schemas", {})
    ops = Markup("").join(_operation(path, method, item[method], schemas)
                          for path, item in openapi.get("paths", {}).items()
                          for method in METHODS if method in item)
    page = Markup(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} API</title><style>{style}</style></head><body>"
        "<h1>{title} API {version}</h1><p>{description}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI {oas}).</p>'
        "{ops}</body></html>"
    ).format(title=info.get("title", ""), version=info.get("version", ""),
             description=info.get("description", ""), style=Markup(STYLE),
             oas=openapi.get("openapi", ""), ops=ops)
    return str(page)

