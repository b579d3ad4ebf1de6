"""One router per resource. Each page's ``/api/v1/`` twin is built from the same document function."""

from __future__ import annotations

from dadkhah.web.routes import (
    accountability,
    admin,
    appeals,
    auth,
    dashboard,
    estimates,
    exports,
    intake,
    jobs,
    persons,
    places,
    review,
    signing,
    sources,
    tokens,
    vault,
)

ROUTERS = [auth.router, dashboard.router, persons.router, places.router, sources.router, exports.router, review.router,
           estimates.router, jobs.router, vault.router, intake.router, accountability.router, appeals.router, signing.router,
           admin.router, tokens.router]
