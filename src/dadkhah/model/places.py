"""The gazetteer: provinces, cities, prisons, cemeteries and grave sites, with all their names."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base

# A number that grows each time records' places are resolved anew (a spelling taught, a newer shipped
# gazetteer): what linkage features were worked out under (dadkhah.link.features.features_context),
# so that the next run works them out again.
PLACES_REVISION_SETTING = "records_places_revision"


class Place(Base):
    """One place. Ids are readable and stable: ``city:rasht``, ``prison:evin``."""

    __tablename__ = "places"

    id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(30))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    name_fa: Mapped[str | None] = mapped_column(sa.String(200))
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("places.id"))
    province_now: Mapped[str | None] = mapped_column(sa.String(100))
    province_1988: Mapped[str | None] = mapped_column(sa.String(100))
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    coord_source: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    origin: Mapped[str] = mapped_column(sa.String(10), default="builtin")


class PlaceName(Base):
    """A name a place is known by, with its normalised form used for look-up."""

    __tablename__ = "place_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[str] = mapped_column(sa.ForeignKey("places.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    normalized: Mapped[str] = mapped_column(sa.String(300), index=True)
    origin: Mapped[str] = mapped_column(sa.String(10), default="builtin")

    __table_args__ = (sa.UniqueConstraint("place_id", "normalized"),)
