"""geodata: covering index for targeting, bounding-box index on zones

Revision ID: 0003_geodata
Revises: 0002
Create Date: 2026-11-24 06:56:45.522105
"""

from alembic import op


revision = "0003_geodata"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber_locations", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_locations_lon_lat")
        batch_op.create_index(
            "ix_subscriber_locations_lon_lat_subscriber",
            ["lon", "lat", "subscriber_id"],
            unique=False,
        )

    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_zones_bbox", ["min_lon", "max_lon", "min_lat", "max_lat"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_index("ix_zones_bbox")

    with op.batch_alter_table("subscriber_locations", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_locations_lon_lat_subscriber")
        batch_op.create_index("ix_subscriber_locations_lon_lat", ["lon", "lat"], unique=False)
