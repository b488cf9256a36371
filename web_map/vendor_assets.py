"""Copy the map's browser libraries from node_modules into the package, and write SOURCES.md.

Run from the repository root after ``npm ci`` (exact versions from ``package.json``)::

    npm ci && .venv/bin/python web_map/vendor_assets.py          # copy
    .venv/bin/python web_map/vendor_assets.py --check            # are the copies current?

The copies are committed, so users and the web app need no npm. Which files are copied is
declared once, in ``floodwatch.web_map.assets``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
from pathlib import Path

from floodwatch.web_map.assets import VENDOR_DIR, VENDORED

ROOT = Path(__file__).resolve().parent.parent
HEADER = """# Vendored browser libraries

Served by floodwatch itself under the map's `asset_base` (default `/static/vendor`), so the public
map makes no request to another host. Copied from npm (exact versions pinned in the repository's
`package.json` / `package-lock.json`) by `web_map/vendor_assets.py`; do not edit by hand.

| package | version | licence | files |
|---|---|---|---|
"""


def _meta(node_modules: Path, name: str) -> dict[str, str]:
    path = node_modules / name / "package.json"
    if not path.is_file():
        sys.exit(f"{path} is missing: run `npm ci` in {ROOT} first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"version": str(data["version"]), "license": str(data.get("license", "unknown"))}


def sources_md(node_modules: Path) -> str:
    rows = []
    for pkg in VENDORED:
        meta = _meta(node_modules, pkg.npm_name)
        files = ", ".join(f"`{dest}`" for _, dest in pkg.files)
        rows.append(f"| {pkg.npm_name} | {meta['version']} | {meta['license']} | {files} |")
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report copies that differ from node_modules")
    parser.add_argument("--node-modules", type=Path, default=ROOT / "node_modules")
    args = parser.parse_args(argv)
    stale = []
    for pkg in VENDORED:
        _meta(args.node_modules, pkg.npm_name)
        for src_rel, dest_rel in pkg.files:
            src, dest = args.node_modules / pkg.npm_name / src_rel, VENDOR_DIR / dest_rel
            if args.check:
                if not dest.is_file() or not filecmp.cmp(src, dest, shallow=False):
                    stale.append(dest_rel)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    sources = VENDOR_DIR / "SOURCES.md"
    text = sources_md(args.node_modules)
    if args.check:
        if not sources.is_file() or sources.read_text(encoding="utf-8") != text:
            stale.append("SOURCES.md")
        for name in stale:
            print(f"out of date: {name}")
        return 1 if stale else 0
    sources.write_text(text, encoding="utf-8")
    print(f"copied {sum(len(p.files) for p in VENDORED)} files into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
