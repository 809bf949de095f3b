"""Small Sphinx fixes for the robustlab book.

``dedupe_scripts``: sphinx-thebe 0.3 registers its inline configuration script
(``const THEBE_JS_URL = ...``) once per ``env-before-read-docs``, so a full rebuild can put it
on each page twice, and the browser then reports "Identifier 'THEBE_JS_URL' has already been
declared". Each page keeps only the first of identical script entries.

``launch_buttons``: Binder, Colab and JupyterHub buttons on every chapter page, built from one
setting, the repository URL (``repository.url`` in ``_config.yml``; the environment variable
``ROBUSTLAB_REPOSITORY_URL`` overrides it, e.g. in the publishing workflow). While it is unset there
are no launch buttons. They open the chapter's *source* notebook ``notebooks/<name>.ipynb`` (the
executed copies under ``book/executed/`` are build outputs, not in the repository). The services
come from the Sphinx setting ``robustlab_launch`` (``binderhub_url``, ``colab_url``,
``jupyterhub_url``; an empty one is left out; Colab needs a GitHub repository).
"""
from __future__ import annotations

import os
from urllib.parse import quote, urlparse


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


def repository_url(app) -> str:
    """The one repository-URL setting (environment override first), without a trailing slash."""
    url = os.environ.get("ROBUSTLAB_REPOSITORY_URL", "").strip()
    if not url:
        url = str((app.config.html_theme_options or {}).get("repository_url", "") or "").strip()
    return url.rstrip("/").removesuffix(".git")


def launch_links(repo_url: str, branch: str, notebook: str, services: dict) -> list[dict]:
    """Header-button entries (sphinx-book-theme's format) that open ``notebook`` (a path inside the
    repository) on each configured service. Empty when ``repo_url`` is empty."""
    if not repo_url:
        return []
    parts = urlparse(repo_url)
    path = parts.path.strip("/")
    links = []
    binder = (services.get("binderhub_url") or "").rstrip("/")
    if binder and parts.netloc == "github.com":
        links.append(("Binder", f"{binder}/v2/gh/{path}/{branch}?urlpath={quote('lab/tree/' + notebook, safe='')}"))
    colab = (services.get("colab_url") or "").rstrip("/")
    if colab and parts.netloc == "github.com":
        links.append(("Colab", f"{colab}/github/{path}/blob/{branch}/{notebook}"))
    hub = (services.get("jupyterhub_url") or "").rstrip("/")
    if hub:
        name = path.rsplit("/", 1)[-1]
        links.append(("JupyterHub", f"{hub}/hub/user-redirect/git-pull?repo={quote(repo_url, safe='')}"
                                    f"&branch={branch}&urlpath={quote(f'lab/tree/{name}/{notebook}', safe='')}"))
    return [{"type": "link", "url": url, "text": text, "tooltip": f"Open this chapter's notebook on {text}",
             "icon": "fas fa-rocket", "label": f"launch-{text.lower()}-button"} for text, url in links]


def launch_buttons(app, pagename, templatename, context, doctree) -> None:
    if not pagename.startswith("book/executed/") or "header_buttons" not in context:
        return
    name = pagename.rsplit("/", 1)[-1]
    srcdir = app.srcdir if hasattr(app, "srcdir") else "."
    if not os.path.exists(os.path.join(srcdir, "notebooks", f"{name}.ipynb")):
        return  # a placeholder page: nothing to launch
    branch = str((app.config.html_theme_options or {}).get("repository_branch", "") or "main")
    links = launch_links(repository_url(app), branch, f"notebooks/{name}.ipynb", app.config.robustlab_launch or {})
    if links:
        context["header_buttons"].append({"type": "group", "tooltip": "Run this chapter's notebook",
                                          "icon": "fas fa-rocket", "buttons": links, "label": "launch-buttons"})


def setup(app):
    app.add_config_value("robustlab_launch", {}, "html")
    app.connect("html-page-context", dedupe_scripts, priority=900)
    app.connect("html-page-context", launch_buttons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
