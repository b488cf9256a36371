"""feed health: one row per feed (attempts, successes, freshness, errors, HTTP validators)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('feed_status',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('newest_reading_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('readings_added', sa.Integer(), nullable=False),
    sa.Column('readings_total', sa.BigInteger(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_feed_status'))
    )



def downgrade() -> None:

    op.drop_table('feed_status')

