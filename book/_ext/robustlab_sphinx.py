"""Small Sphinx fixes for the robustlab book.

``dedupe_scripts``: sphinx-thebe 0.3 registers its inline configuration script
(``const THEBE_JS_URL = ...``) once per ``env-before-read-docs``, so a full rebuild can put it
on each page twice, and the browser then reports "Identifier 'THEBE_JS_URL' has already been
declared". Each page keeps only the first of identical script entries.
"""
from __future__ import annotations


def _key(js) -> tuple:
    attrs = getattr(js, "attributes", {}) or {}
    filename = getattr(js, "filename", None) or ""  # None and "" both mean an inline script
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attrs.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    files = context.get("script_files")
    if not files:
        return
    seen, keep = set(), []
    for js in files:
        k = _key(js)
        if k not in seen:
            seen.add(k)
            keep.append(js)
    files[:] = keep


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
