"""Vendored JavaScript/CSS and the folium element that puts them (and the data) in the page."""

from __future__ import annotations

import html
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from branca.element import Element, Figure, MacroElement
from jinja2 import Template

__all__: list[str] = []

#: Stylesheets and scripts, in load order (all in ``prospector/render/static``).
CSS_FILES = ("leaflet.css", "MarkerCluster.css", "MarkerCluster.Default.css", "prospector-map.css")
JS_FILES = (
    "leaflet.js",
    "leaflet.markercluster.js",
    "prospector-score.js",
    "prospector-live.js",
    "prospector-map.js",
    "prospector-panel.js",
)
LICENCE_FILES = ("LICENSE-leaflet.txt", "LICENSE-leaflet.markercluster.txt", "README.md")


def static_text(name: str) -> str:
    """Return the text of the vendored file *name*."""
    return resources.files("prospector.render").joinpath("static").joinpath(name).read_text("utf-8")


def copy_static(dest: Path) -> None:
    """Copy every asset and licence file into the folder *dest*."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CSS_FILES + JS_FILES + LICENCE_FILES:
        src = resources.files("prospector.render").joinpath("static").joinpath(name)
        with resources.as_file(src) as path:
            shutil.copyfile(path, dest / name)


class OfflinePage(MacroElement):
    """Adds the vendored assets, the map data and the start-up call to a folium map.

    Parameters
    ----------
    payload_json
        The data, already serialised by ``_payload.to_script_json`` (safe inside ``<script>``).

    Notes
    -----
    Assets are inlined unless :attr:`asset_dir` is set (by ``write_map(single_file=False)``),
    in which case ``<link>``/``<script src>`` point to that relative folder.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
{{ this.head_html() }}
{% endmacro %}
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.data_id }}">{{ this.payload_json }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
window.prospector = ProspectorMap.init({{ this._parent.get_name() }}, JSON.parse(
    document.getElementById("{{ this.data_id }}").textContent));
{% endmacro %}
"""
    )

    def __init__(self, payload_json: str) -> None:
        super().__init__()
        self._name = "ProspectorOfflinePage"
        self.payload_json = payload_json
        self.data_id = f"prospector-data-{self._id}"
        self.asset_dir: str | None = None

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as MacroElement's
        """Add the page's header, body and script parts to the figure as literal text.

        branca's ``MacroElement.render`` wraps each rendered part in an ``Element``, which
        compiles it as a Jinja template: a ``{{`` or ``{%`` anywhere in the data (a deposit
        name, a sentence) was then evaluated or broke the page, and lexing the megabytes of
        inline data and scripts cost seconds.  The parts here are rendered once and passed
        through unchanged.
        """
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("the offline page renders only inside a folium map's figure")
        module = self._template.module
        name = self.get_name()
        figure.header.add_child(_Literal(module.header(self, kwargs)), name=name)
        figure.html.add_child(_Literal(module.html(self, kwargs)), name=name)
        figure.script.add_child(_Literal(module.script(self, kwargs)), name=name)

    def head_html(self) -> str:
        """Return the ``<style>``/``<script>`` elements (inline) or links (external)."""
        parts = []
        if self.asset_dir is None:
            for name in CSS_FILES:
                css = static_text(name).replace("</style", "<\\/style")
                parts.append(f"<style>/* {name} */\n{css}</style>")
            for name in JS_FILES:
                js = static_text(name).replace("</script", "<\\/script")
                parts.append(f"<script>/* {name} */\n{js}</script>")
        else:
            base = html.escape(self.asset_dir.rstrip("/"), quote=True)
            for name in CSS_FILES:
                parts.append(f'<link rel="stylesheet" href="{base}/{name}">')
            for name in JS_FILES:
                parts.append(f'<script src="{base}/{name}"></script>')
        return "\n".join(parts)


class _Literal(Element):
    """A figure part whose text is emitted as it is (never compiled as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Literal"
        # As a template would have been compiled: Jinja drops one trailing newline.
        self.text = str(text).removesuffix("\n")

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self.text
