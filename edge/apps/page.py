"""The draw-a-digit page: one template (``edge/web/index.html``) that the server and the static
export both fill in, so the two pages cannot drift apart."""

from __future__ import annotations

from string import Template

from digitlite.edge.runtime.shipped import web_root

TEMPLATE = "index.html"  # in the package's web folder; its placeholders are style, hint and scripts


def page(style: str, hint: str, scripts: str) -> str:
    """The page with its stylesheet's address, the hint under the title and the scripts that run it."""
    return Template((web_root() / TEMPLATE).read_text()).substitute(style=style, hint=hint, scripts=scripts)


def served_page() -> str:
    """The page ``digitlite serve`` answers at /: its files under /static/, the digit read by the server."""
    return page("/static/style.css", "The prediction appears when you lift.",
                '<script type="module" src="/static/app.js"></script>')
