"""The browser libraries the public map serves itself, so no request leaves the server.

They are copied from npm (the exact versions in the repository's ``package.json``) into
``static/vendor/`` by ``web_map/vendor_assets.py`` and committed, so users need no npm. The web
app serves :data:`VENDOR_DIR` at the map's ``asset_base`` (``/static/vendor`` by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"


@dataclass(frozen=True)
class VendoredPackage:
    """One npm package: which of its files are copied where (paths relative to the package
    folder in node_modules and to :data:`VENDOR_DIR`)."""

    npm_name: str
    files: tuple[tuple[str, str], ...]
    js: tuple[str, ...] = ()  # the scripts the page loads, relative to VENDOR_DIR
    css: tuple[str, ...] = ()


LEAFLET = VendoredPackage(
    npm_name="leaflet",
    files=(
        ("dist/leaflet.js", "leaflet/leaflet.js"),
        ("dist/leaflet.css", "leaflet/leaflet.css"),
        ("dist/images/layers.png", "leaflet/images/layers.png"),
        ("dist/images/layers-2x.png", "leaflet/images/layers-2x.png"),
        ("dist/images/marker-icon.png", "leaflet/images/marker-icon.png"),
        ("dist/images/marker-icon-2x.png", "leaflet/images/marker-icon-2x.png"),
        ("dist/images/marker-shadow.png", "leaflet/images/marker-shadow.png"),
        ("LICENSE", "leaflet/LICENSE"),
    ),
    js=("leaflet/leaflet.js",),
    css=("leaflet/leaflet.css",),
)

#: Every vendored package, in load order.
VENDORED: tuple[VendoredPackage, ...] = (LEAFLET,)


def page_links(asset_base: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(default_js, default_css) for a folium map: named URLs under ``asset_base``."""
    base = asset_base.rstrip("/")
    js = [(Path(p).stem, f"{base}/{p}") for pkg in VENDORED for p in pkg.js]
    css = [(f"{Path(p).stem}_css", f"{base}/{p}") for pkg in VENDORED for p in pkg.css]
    return js, css
