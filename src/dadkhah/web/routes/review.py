"""Review: the queue of uncertain pairs from the latest linkage run, one pair side by side, decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError
from dadkhah.web.security import Viewer, client_address, require
from dadkhah.web.templating import render

router = APIRouter()
# A row's id: positive and within the database's 64-bit integers (bigger ones are a 422, not a crash).
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
MAX_PAGE = 1_000_000  # pages beyond this would need offsets no list here reaches


class PairDecision(BaseModel):
    """A reviewer's decision on a pair: the two records are the same person, or different persons."""

    decision: Literal["same", "different"]
    reason: str = Field(max_length=5000, description="Why: reviewers after you will read it (required).")


def queue_document(store, page: int, per_page: int) -> dict:
    from dadkhah.link.review import review_queue

    with store.session() as session:
        queue = review_queue(session, limit=per_page, offset=(page - 1) * per_page)
    return queue | {"page": page, "per_page": per_page, "has_next": queue["total"] > page * per_page}


def pair_document(store, pair_id: int) -> dict:
    from dadkhah.link.review import review_pair

    with store.session() as session:
        return review_pair(session, pair_id)


def decisions_document(store, page: int, per_page: int) -> dict:
    from dadkhah.link.review import list_decisions

    with store.session() as session:
        decisions = list_decisions(session, limit=per_page + 1, offset=(page - 1) * per_page, newest_first=True)
    return {"decisions": decisions[:per_page], "page": page, "per_page": per_page, "has_next": len(decisions) > per_page}


def decide_document(store, pair_id: int, decision: str, reason: str, decided_by: str, address: str | None) -> dict:
    """Decide the pair and write the "pair decided" event in the same transaction; then name the next pair."""
    from dadkhah.audit import record_audit, workspace_ident
    from dadkhah.link.review import decide_pair, next_pair

    with store.session() as session:
        decided = decide_pair(session, pair_id, decision, reason=reason, decided_by=decided_by)
        record_audit(session, workspace_ident(store.workspace), action="pair decided", object_kind="match decision",
                     object_id=str(decided["id"]), address=address,
                     details={"pair_id": pair_id, "record_a": decided["record_a"], "record_b": decided["record_b"],
                              "decision": decision, "replaces": decided["replaces"]})
    with store.session() as session:
        decided["next_pair"] = next_pair(session)
    return decided


def _per_page(request: Request, per_page: int | None) -> int:
    return per_page or request.app.state.settings.page_size


@router.get("/review", include_in_schema=False)
async def queue_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE), per_page: int | None = Query(None, ge=1, le=200),
                     decided: int | None = Query(None, ge=1), viewer: Viewer = require("review")):
    document = await run_in_threadpool(queue_document, request.app.state.store, page, _per_page(request, per_page))
    return await render(request, "review.html", document, decided=decided)


@router.get("/api/v1/review", summary="Undecided pairs of the latest linkage run, most uncertain first (paged)")
async def queue_api(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE), per_page: int | None = Query(None, ge=1, le=200),
                    viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(queue_document, request.app.state.store, page, _per_page(request, per_page))


@router.get("/review/decisions", include_in_schema=False)
async def decisions_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE), per_page: int | None = Query(None, ge=1, le=200),
                         viewer: Viewer = require("review")):
    document = await run_in_threadpool(decisions_document, request.app.state.store, page, _per_page(request, per_page))
    return await render(request, "review_decisions.html", document)


@router.get("/api/v1/review/decisions", summary="Review decisions, newest first (paged; replaced ones included)")
async def decisions_api(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE), per_page: int | None = Query(None, ge=1, le=200),
                        viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(decisions_document, request.app.state.store, page, _per_page(request, per_page))


@router.get("/review/{pair_id}", include_in_schema=False)
async def pair_page(request: Request, pair_id: RowId, decided: int | None = Query(None, ge=1),
                    viewer: Viewer = require("review")):
    document = await run_in_threadpool(pair_document, request.app.state.store, pair_id)
    return await render(request, "review_pair.html", document, decided=decided, error=None, form={})


@router.get("/api/v1/review/{pair_id}", summary="One pair: both records side by side, the evidence for and against")
async def pair_api(request: Request, pair_id: RowId, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(pair_document, request.app.state.store, pair_id)


@router.post("/review/{pair_id}/decide", include_in_schema=False)
async def decide_page(request: Request, pair_id: RowId, decision: str = Form(""), reason: str = Form(""),
                      viewer: Viewer = require("review")):
    store = request.app.state.store
    try:
        decided = await run_in_threadpool(decide_document, store, pair_id, decision, reason, viewer.username,
                                          client_address(request))
    except DadkhahError as exc:
        document = await run_in_threadpool(pair_document, store, pair_id)
        return await render(request, "review_pair.html", document, status_code=400, decided=None, error=str(exc),
                            form={"decision": decision, "reason": reason})
    target = f"/review/{decided['next_pair']}" if decided["next_pair"] is not None else "/review"
    return RedirectResponse(f"{target}?decided={decided['id']}", status_code=303)


@router.post("/api/v1/review/{pair_id}/decide", summary="Decide a pair: same or different, with a reason")
async def decide_api(request: Request, pair_id: RowId, body: PairDecision, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(decide_document, request.app.state.store, pair_id, body.decision, body.reason,
                                   viewer.username, client_address(request))
