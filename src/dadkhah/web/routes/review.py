"""Review: the queue of uncertain pairs from the latest linkage run, one pair side by side, decisions;
and running the linkage again, so that decisions take effect."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, Unavailable
from dadkhah.link import DEFAULT_REVIEW_BAND, DEFAULT_THRESHOLD
from dadkhah.web.params import Page, Paging, RowId
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()


class LinkRun(BaseModel):
    """A linkage run: every current record linked into persons, obeying every decision (engine: DuckDB)."""

    threshold: float = Field(DEFAULT_THRESHOLD, gt=0, lt=1, description="Match probability at which two records are linked.")
    review_band: tuple[float, float] = Field(DEFAULT_REVIEW_BAND, description="Pairs scored in this band go to review.")
    seed: int = Field(1988, ge=0, le=2**32 - 1, description="Seed of the random sampling in training.")
    retrain: bool = Field(False, description="Train the model again even if the records' make-up has not changed.")


class PairDecision(BaseModel):
    """A reviewer's decision on a pair: the two records are the same person, or different persons."""

    decision: Literal["same", "different"]
    reason: str = Field(max_length=5000, description="Why: reviewers after you will read it (required).")


def queue_document(store, page: Page) -> dict:
    from dadkhah.link.review import review_queue

    with store.session() as session:
        queue = review_queue(session, limit=page.size, offset=page.offset)
    return queue | page.describe(has_next=queue["total"] > page.number * page.size)


def pair_document(store, pair_id: int) -> dict:
    from dadkhah.link.review import review_pair

    with store.session() as session:
        return review_pair(session, pair_id)


def decisions_document(store, page: Page) -> dict:
    from dadkhah.link.review import list_decisions

    with store.session() as session:
        decisions = list_decisions(session, limit=page.fetch, offset=page.offset, newest_first=True)
    return page.document("decisions", decisions)


def decide_document(store, viewer: Viewer, pair_id: int, decision: str, reason: str) -> dict:
    """Decide the pair (the decision and its audit event in one transaction); then name the next pair."""
    from dadkhah.link.review import decide, next_pair

    decided = decide(store, decision, actor=viewer.actor, reason=reason, pair_id=pair_id)
    with store.session() as session:
        decided["next_pair"] = next_pair(session)
    return decided


def link_document(store, viewer: Viewer, run: LinkRun) -> dict:
    """Link every current record (the run, its persons, its queue and its audit event in one transaction)."""
    from dadkhah.link.run import run_linkage  # the engine (Splink, DuckDB, Arrow) only when linking

    return run_linkage(store, actor=viewer.actor, threshold=run.threshold, review_band=tuple(run.review_band),
                       seed=run.seed, retrain=run.retrain).to_dict()


@router.post("/review/link", include_in_schema=False)
async def link_page(request: Request, viewer: Viewer = require("review")):
    summary = await run_in_threadpool(link_document, request.app.state.store, viewer, LinkRun())
    return RedirectResponse(f"/review?linked={summary['run_id']}", status_code=303)


@router.post("/api/v1/link/run", summary="Link every current record into persons again, obeying every decision")
async def link_api(request: Request, body: LinkRun, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(link_document, request.app.state.store, viewer, body)


@router.get("/review", include_in_schema=False)
async def queue_page(request: Request, page: Paging, decided: int | None = Query(None, ge=1),
                     linked: int | None = Query(None, ge=1), viewer: Viewer = require("review")):
    document = await run_in_threadpool(queue_document, request.app.state.store, page)
    return await render(request, "review.html", document, decided=decided, linked=linked)


@router.get("/api/v1/review", summary="Undecided pairs of the latest linkage run, those whose decision would change the most first (paged)")
async def queue_api(request: Request, page: Paging, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(queue_document, request.app.state.store, page)


@router.get("/review/decisions", include_in_schema=False)
async def decisions_page(request: Request, page: Paging, viewer: Viewer = require("review")):
    document = await run_in_threadpool(decisions_document, request.app.state.store, page)
    return await render(request, "review_decisions.html", document)


@router.get("/api/v1/review/decisions", summary="Review decisions, newest first (paged; replaced ones included)")
async def decisions_api(request: Request, page: Paging, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(decisions_document, request.app.state.store, page)


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
        decided = await run_in_threadpool(decide_document, store, viewer, pair_id, decision, reason)
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(pair_document, store, pair_id)
        return await render(request, "review_pair.html", document, status_code=400, decided=None, error=exc.to_dict(),
                            form={"decision": decision, "reason": reason})
    target = f"/review/{decided['next_pair']}" if decided["next_pair"] is not None else "/review"
    return RedirectResponse(f"{target}?decided={decided['id']}", status_code=303)


@router.post("/api/v1/review/{pair_id}/decide", summary="Decide a pair: same or different, with a reason")
async def decide_api(request: Request, pair_id: RowId, body: PairDecision, viewer: Viewer = require("review")) -> dict:
    return await run_in_threadpool(decide_document, request.app.state.store, viewer, pair_id, body.decision,
                                   body.reason)
