"""A reviewer's decision on a claim: accepted, conflict or work needed, with the reason."""

from __future__ import annotations

import sqlalchemy as sa

from dadkhah.accountability.claims import claim_pk, claim_public_id, lock_claims, refresh_entities
from dadkhah.accountability.vocabulary import REVIEW_STATUSES, read_word
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.model import Claim, ClaimReview
from dadkhah.model.base import utcnow
from dadkhah.store import Store


def review_claim(store: Store, claim: str, *, status: str, reason: str, actor: Actor) -> dict:
    """Set a current claim's review status, recording who decided, when and why.

    A superseded claim cannot be reviewed (review its newer version). The claim itself is not
    changed: its history of statuses is kept in ``claim_reviews`` and in the audit log.
    """
    pk = claim_pk(claim)
    status = read_word(status, REVIEW_STATUSES, field="status")
    reason = (reason or "").strip()
    if not reason:
        raise InputError("say why (it is kept with the decision)", field="reason")
    with store.session() as session:
        lock_claims(session)
        row = session.get(Claim, pk)
        if row is None:
            raise NotFound(f"no claim {claim_public_id(pk)}")
        if row.superseded_by is not None:
            raise InputError(f"{claim_public_id(pk)} was superseded by {claim_public_id(row.superseded_by)}; "
                             "review the current version", field="claim")
        before = row.review_status
        row.review_status = status
        session.add(ClaimReview(claim_pk=pk, review_status=status, reason=reason, decided_by=actor.name,
                                decided_at=utcnow()))
        session.flush()
        if row.kind in ("institution", "official", "site", "act"):
            refresh_entities(session, [row.subject_pk])
        record_audit(session, store, actor, action="claim reviewed", object_kind="claim",
                     object_id=claim_public_id(pk), details={"from": before, "to": status})
        session.commit()
        return {"claim": claim_public_id(pk), "review_status": status, "previous": before, "reason": reason,
                "decided_by": actor.name}


def claim_reviews(session, claim: str) -> list[dict]:
    pk = claim_pk(claim)
    return [{"review_status": r.review_status, "reason": r.reason, "decided_by": r.decided_by,
             "decided_at": r.decided_at.isoformat()}
            for r in session.scalars(sa.select(ClaimReview).where(ClaimReview.claim_pk == pk).order_by(ClaimReview.id))]
