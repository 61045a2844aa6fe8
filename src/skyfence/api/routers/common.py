"""Shared query parameter types and small helpers of the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

MAX_INT = 2**31 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=1000, description="rows to return")]


def ledger_of(request: Request):
    return request.app.state.ledger
