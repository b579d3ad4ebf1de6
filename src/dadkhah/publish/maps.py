"""The map of what is published: provinces shaded by the published victims whose city lies in each,
a marker for each of those cities, and each published site (at its coordinates when its policy is
``exact``, at its city when ``city``; a hidden site is never published, so never drawn). The
memorial's home page and the printed report draw the same map."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from dadkhah.publish.words import digits
from dadkhah.report.maps import province_map

LEGEND = {"en": "Named victims by province", "fa": "جان‌باختگان نام‌برده در هر استان"}


def published_map(cities: list[dict], sites: list[dict], *, language: str, link: Callable[[str, str], str] | None = None,
                  element_id: str = "published", standalone: bool = True, width: int = 800) -> str:
    """The map as one SVG string.

    ``cities``: ``{"id", "slug", "count", "place": {"name_en", "name_fa", "province", "lat", "lon"}}``;
    ``sites``: as :func:`dadkhah.publish.policy.published_accountability` gives them. ``link(kind,
    slug)`` gives a marker's address within the site (``kind`` is ``city`` or ``site``); without it,
    markers link nowhere (a printed map).
    """
    per_province: dict[str, int] = defaultdict(int)
    markers = []
    for city in cities:
        place = city["place"]
        if place.get("province"):
            per_province[place["province"]] += city["count"]
        if place.get("lat") is not None and place.get("lon") is not None:
            name = (place["name_fa"] if language == "fa" else place["name_en"]) or city["id"]
            markers.append({"lon": place["lon"], "lat": place["lat"], "kind": "city", "id": city["slug"],
                            "label": f"{name}: {digits(city['count'], language)}",
                            **({"href": link("city", city["slug"])} if link else {})})
    for site in sites:
        location = site["location"]
        point = (location.get("lat"), location.get("lon")) if "lat" in location else \
            ((location["place"] or {}).get("lat"), (location["place"] or {}).get("lon"))
        if point[0] is None or point[1] is None:
            continue
        name = (site["name_fa"] or site["name"]) if language == "fa" else (site["name"] or site["name_fa"])
        kind = site["kind"] if site["kind"] in ("mass-grave", "cemetery", "prison") else "site"
        markers.append({"lat": point[0], "lon": point[1], "kind": kind, "id": site["slug"], "label": name or site["id"],
                        **({"href": link("site", site["slug"])} if link else {})})
    return province_map(dict(per_province), markers, language=language, legend_title=LEGEND[language],
                        element_id=element_id, standalone=standalone, width=width)
