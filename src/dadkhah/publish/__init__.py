"""Publishing what may be published: one publication policy, applied by everything that leaves the
registry for the public (the memorial site, printed reports, public exports), and the signed
manifest that lets a mirror prove a published site unaltered."""

from dadkhah.publish.manifest import sign_site, verify_site
from dadkhah.publish.policy import PUBLISHED_FIELDS, public_sources, published_persons

__all__ = ["PUBLISHED_FIELDS", "public_sources", "published_persons", "sign_site", "verify_site"]
