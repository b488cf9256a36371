"""user thresholds: a subscriber's own level on a river gauge

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_thresholds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('level_m', sa.Float(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_user_thresholds_station_id_stations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_user_thresholds_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_thresholds')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('user_thresholds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_thresholds_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_thresholds_subscription_id'), ['subscription_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_thresholds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_thresholds_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_user_thresholds_station_id'))

    op.drop_table('user_thresholds')
