"""delivery kind: the ledger carries the weekly summary as well as the digest

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_UNIQUE = "uq_alert_delivery_staff_id"
NEW_UNIQUE = "uq_alert_delivery_staff_id_day_kind"
KIND_CHECK = "ck_alert_delivery_deliverykind"  # the naming convention's name for the enum


def upgrade() -> None:
    # Batch mode: SQLite cannot alter constraints in place, so the table is copied there.
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "digest",
                    "weekly",
                    name="deliverykind",
                    native_enum=False,
                    create_constraint=True,
                    length=6,
                ),
                # Every row so far is a morning digest.
                server_default="digest",
                nullable=False,
            )
        )
        batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(NEW_UNIQUE, ["staff_id", "day", "kind"])


def downgrade() -> None:
    # Only digests fit the old (person, day) key: the weekly rows go first.
    op.execute("DELETE FROM alert_delivery WHERE kind <> 'digest'")
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.drop_constraint(NEW_UNIQUE, type_="unique")
        batch_op.create_unique_constraint(OLD_UNIQUE, ["staff_id", "day"])
        # SQLite's table copy would keep the CHECK on the dropped column: drop it by name.
        batch_op.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch_op.drop_column("kind")
