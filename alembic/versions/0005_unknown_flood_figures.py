"""area results: flood figures unknown (NULL) when a run did not model flooding

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:24:21.711897
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('area_results', schema=None) as batch_op:
        batch_op.alter_column('flooded_km2',
               existing_type=sa.FLOAT(),
               nullable=True)
        batch_op.alter_column('flooded_share',
               existing_type=sa.FLOAT(),
               nullable=True)
        batch_op.alter_column('people_affected',
               existing_type=sa.INTEGER(),
               nullable=True)


def downgrade() -> None:
    for column in ("flooded_km2", "flooded_share", "people_affected"):  # unknown was 0 before
        op.execute(f"UPDATE area_results SET {column} = 0 WHERE {column} IS NULL")
    with op.batch_alter_table('area_results', schema=None) as batch_op:
        batch_op.alter_column('people_affected',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('flooded_share',
               existing_type=sa.FLOAT(),
               nullable=False)
        batch_op.alter_column('flooded_km2',
               existing_type=sa.FLOAT(),
               nullable=False)
