"""alembic environment for floodwatch: the engine comes from floodwatch's settings (or from the
caller, see floodwatch.core.migrate), so migrations run on SpatiaLite and PostGIS alike."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import alembic_helpers

from alembic import context
from floodwatch.core.db import UTCDateTime, make_engine
from floodwatch.core.migrate import metadata
from floodwatch.core.settings import StoreSettings

# Tables that belong to others: SpatiaLite's own metadata, spatial-index shadow tables and
# APScheduler's job store.
_FOREIGN_PREFIXES = (
    "spatial_ref_sys", "spatialite_history", "sqlite_", "geometry_columns", "views_geometry",
    "virts_geometry", "vector_layers", "geom_cols_ref_sys", "spatialite_", "sql_statements_log",
    "data_licenses", "rl2map_", "se_", "wms_", "topologies", "networks", "raster_coverages",
    "vector_coverages", "ElementaryGeometries", "SpatialIndex", "KNN", "idx_",
    "apscheduler_", "layer_statistics", "views_layer_statistics", "virts_layer_statistics",
    "geometry_columns_", "iso_metadata", "ISO_metadata",
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name and (name.startswith(_FOREIGN_PREFIXES) or name == "KNN2"):
        return False
    if type_ == "table" and name in {"topology", "layer"}:  # postgis_topology, if installed
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations spell floodwatch's UTC column type as plain timestamptz."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    rendered: str | bool = alembic_helpers.render_item(type_, obj, autogen_context)
    return rendered


def run_migrations() -> None:
    config = context.config
    engine = config.attributes.get("engine") or make_engine(StoreSettings().url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata(),
            include_object=include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=render_item,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
