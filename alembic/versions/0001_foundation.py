"""foundation: regions, areas (any hierarchy), rivers, stations, readings

Revision ID: 0001
Revises: 
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry

from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('regions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('metric_crs', sa.String(length=32), nullable=False),
    sa.Column('definition', sa.String(length=500), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_regions'))
    )
    op.create_geospatial_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_vi', sa.String(length=200), nullable=False),
    sa.Column('name_ascii', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('population_year', sa.Integer(), nullable=True),
    sa.Column('population_source', sa.String(length=500), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['areas.id'], name=op.f('fk_areas_parent_id_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region'], ['regions.name'], name=op.f('fk_areas_region_regions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('region', 'level', 'code', name=op.f('uq_areas_region_level_code'))
    )
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_areas_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_areas_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_areas_region'), ['region'], unique=False)

    op.create_geospatial_table('rivers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_ascii', sa.String(length=200), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('length_km', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['region'], ['regions.name'], name=op.f('fk_rivers_region_regions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rivers')),
    sa.UniqueConstraint('region', 'code', name=op.f('uq_rivers_region_code'))
    )
    with op.batch_alter_table('rivers', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_rivers_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})

    op.create_geospatial_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_ascii', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('river_id', sa.Integer(), nullable=True),
    sa.Column('river_name', sa.String(length=200), nullable=True),
    sa.Column('alarm1_m', sa.Float(), nullable=True),
    sa.Column('alarm2_m', sa.Float(), nullable=True),
    sa.Column('alarm3_m', sa.Float(), nullable=True),
    sa.Column('alarm_source', sa.String(length=500), nullable=True),
    sa.Column('datum', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['region'], ['regions.name'], name=op.f('fk_stations_region_regions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['river_id'], ['rivers.id'], name=op.f('fk_stations_river_id_rivers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('code', name=op.f('uq_stations_code'))
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_stations_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_stations_region'), ['region'], unique=False)

    op.create_table('readings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('parameter', sa.String(length=32), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('flags', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_readings_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_readings')),
    sa.UniqueConstraint('station_id', 'parameter', 'observed_at', name=op.f('uq_readings_station_id_parameter_observed_at'))
    )
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.create_index('ix_readings_observed_at', ['observed_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_index('ix_readings_observed_at')

    op.drop_table('readings')
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stations_region'))
        batch_op.drop_geospatial_index('idx_stations_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('stations')
    with op.batch_alter_table('rivers', schema=None) as batch_op:
        batch_op.drop_geospatial_index('idx_rivers_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('rivers')
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_areas_region'))
        batch_op.drop_index(batch_op.f('ix_areas_parent_id'))
        batch_op.drop_geospatial_index('idx_areas_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('areas')
    op.drop_table('regions')

