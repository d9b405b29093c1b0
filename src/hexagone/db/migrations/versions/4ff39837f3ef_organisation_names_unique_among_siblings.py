"""organisation names unique among siblings

Existing data: every live organisation gets its case-folded name as ``name_key``; where siblings
already share a name (two resellers "R1"), the oldest keeps it and each later one is renamed
"R1 (2)", "R1 (3)"... so the constraint can be created. Deleted organisations keep NULL.

Revision ID: 4ff39837f3ef
Revises: 1cf65784f28f
Create Date: 2026-12-03 15:49:19.013202
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '4ff39837f3ef'
down_revision = '1cf65784f28f'
branch_labels = None
depends_on = None


def _fold(name: str) -> str:
    return name.strip().casefold()  # as hexagone.db.models.name_key, frozen here


def _backfill() -> None:
    conn = op.get_bind()
    orgs = sa.table(
        "organisations",
        sa.column("id", sa.String), sa.column("parent_id", sa.String), sa.column("name", sa.String),
        sa.column("name_key", sa.String), sa.column("status", sa.String), sa.column("created_at"),
    )
    rows = conn.execute(
        sa.select(orgs.c.id, orgs.c.parent_id, orgs.c.name)
        .where(orgs.c.status != "deleted")
        .order_by(orgs.c.created_at, orgs.c.id)
    ).all()
    taken: set[tuple[str | None, str]] = set()
    for row in rows:
        name, n = row.name, 1
        while (row.parent_id, _fold(name)) in taken:
            n += 1
            name = f"{row.name[:190]} ({n})"
        taken.add((row.parent_id, _fold(name)))
        conn.execute(orgs.update().where(orgs.c.id == row.id).values(name=name, name_key=_fold(name)))


def upgrade() -> None:
    # no batch mode: SQLite adds a column and an index in place (rebuilding the table would trip
    # over the rows that reference it)
    op.add_column('organisations', sa.Column('name_key', sa.String(length=200), nullable=True))
    _backfill()
    op.create_index('ix_organisations_sibling_name', 'organisations', ['parent_id', 'name_key'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_organisations_sibling_name', table_name='organisations')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('name_key')
