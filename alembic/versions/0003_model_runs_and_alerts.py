"""model runs, area results, flood points and extents; alerts, subscriptions, outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('min_level', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('channel', 'address', name=op.f('uq_subscriptions_channel_address'))
    )
    op.create_table('model_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('valid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('stale_inputs', sa.JSON(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('timing_s', sa.JSON(), nullable=False),
    sa.Column('inputs_hash', sa.String(length=64), nullable=False),
    sa.Column('depth_path', sa.String(length=500), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['region'], ['regions.name'], name=op.f('fk_model_runs_region_regions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_runs')),
    sa.UniqueConstraint('region', 'valid_at', name=op.f('uq_model_runs_region_valid_at'))
    )
    op.create_table('alert_states',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('hazard', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_alert_states_area_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('area_id', 'hazard', name=op.f('pk_alert_states'))
    )
    op.create_table('alert_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('hazard', sa.String(length=32), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('previous_level', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('cap_identifier', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_alert_transitions_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['model_runs.id'], name=op.f('fk_alert_transitions_run_id_model_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_transitions')),
    sa.UniqueConstraint('area_id', 'hazard', 'sequence', name=op.f('uq_alert_transitions_area_id_hazard_sequence')),
    sa.UniqueConstraint('cap_identifier', name=op.f('uq_alert_transitions_cap_identifier'))
    )
    with op.batch_alter_table('alert_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_transitions_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_transitions_at'), ['at'], unique=False)

    op.create_table('area_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('flooded_km2', sa.Float(), nullable=False),
    sa.Column('flooded_share', sa.Float(), nullable=False),
    sa.Column('mean_depth_m', sa.Float(), nullable=True),
    sa.Column('max_depth_m', sa.Float(), nullable=True),
    sa.Column('people_affected', sa.Integer(), nullable=False),
    sa.Column('rain_24h_mm', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_area_results_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['model_runs.id'], name=op.f('fk_area_results_run_id_model_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'area_id', name=op.f('pk_area_results'))
    )
    with op.batch_alter_table('area_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_results_area_id'), ['area_id'], unique=False)

    op.create_geospatial_table('flood_extents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('depth_class', sa.String(length=32), nullable=False),
    sa.Column('min_depth_m', sa.Float(), nullable=False),
    sa.Column('max_depth_m', sa.Float(), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['model_runs.id'], name=op.f('fk_flood_extents_run_id_model_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flood_extents'))
    )
    with op.batch_alter_table('flood_extents', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_flood_extents_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_flood_extents_run_id'), ['run_id'], unique=False)

    op.create_geospatial_table('flood_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('depth_m', sa.Float(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_flood_points_area_id_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['model_runs.id'], name=op.f('fk_flood_points_run_id_model_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flood_points'))
    )
    with op.batch_alter_table('flood_points', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_flood_points_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_flood_points_run_id'), ['run_id'], unique=False)

    op.create_table('subscription_areas',
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_subscription_areas_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_areas_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscription_id', 'area_id', name=op.f('pk_subscription_areas'))
    )
    with op.batch_alter_table('subscription_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_areas_area_id'), ['area_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transition_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_notifications_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transition_id'], ['alert_transitions.id'], name=op.f('fk_notifications_transition_id_alert_transitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_notifications_idempotency_key')),
    sa.UniqueConstraint('transition_id', 'subscription_id', name=op.f('uq_notifications_transition_id_subscription_id'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_status_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('delivery_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('temporary', sa.Boolean(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_delivery_attempts_notification_id_notifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts'))
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_notification_id'), ['notification_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_notification_id'))

    op.drop_table('delivery_attempts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status_due')

    op.drop_table('notifications')
    with op.batch_alter_table('subscription_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_areas_area_id'))

    op.drop_table('subscription_areas')
    with op.batch_alter_table('flood_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flood_points_run_id'))
        batch_op.drop_geospatial_index('idx_flood_points_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('flood_points')
    with op.batch_alter_table('flood_extents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flood_extents_run_id'))
        batch_op.drop_geospatial_index('idx_flood_extents_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('flood_extents')
    with op.batch_alter_table('area_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_results_area_id'))

    op.drop_table('area_results')
    with op.batch_alter_table('alert_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_transitions_at'))
        batch_op.drop_index(batch_op.f('ix_alert_transitions_area_id'))

    op.drop_table('alert_transitions')
    op.drop_table('alert_states')
    op.drop_table('model_runs')
    op.drop_table('subscriptions')

