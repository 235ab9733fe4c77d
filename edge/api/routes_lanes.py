"""Lane routes of the box's API: `POST /api/lanes/{lane}/trigger`, an external trigger (loop detector, barrier
PLC) handed to the daemon through `ApiState.on_trigger`, behind the write guard.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from edge.api.common import ErrorOut
from edge.api.guards import Guards
from edge.api.state import ApiState
from edge.domain.declarations import VEHICLE_ID_PATTERN


class TriggerIn(BaseModel):
    """An external trigger (loop detector, barrier PLC): a vehicle enters (`start`) or leaves (`end`) the lane."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["start", "end"]
    vehicle_id: str | None = Field(None, pattern=VEHICLE_ID_PATTERN, description="AI-IGV id, when the vehicle sent one")


class TriggerAccepted(BaseModel):
    lane: str
    state: Literal["start", "end"]
    vehicle_id: str | None = None


def lanes_router(state: ApiState, guards: Guards) -> APIRouter:
    """`POST /api/lanes/{lane}/trigger` (write guard)."""
    router = APIRouter()

    @router.post(
        "/api/lanes/{lane}/trigger", status_code=202, response_model=TriggerAccepted, dependencies=guards.write,
        tags=["lanes"], responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    def trigger(lane: Annotated[str, Path(max_length=64)], body: TriggerIn) -> TriggerAccepted:
        """External trigger: a loop detector saw a vehicle enter (`start`) or leave (`end`) the lane."""
        if lane not in state.lanes:
            raise HTTPException(404, f"no lane {lane!r}")
        if state.on_trigger is None:
            raise HTTPException(503, "external triggers are not wired in this process")
        try:
            state.on_trigger(lane, body.state, body.vehicle_id)
        except ValueError as e:  # a vehicle_id on a lane that takes no AI-IGVs
            raise HTTPException(422, str(e)) from None
        return TriggerAccepted(lane=lane, state=body.state, vehicle_id=body.vehicle_id)

    return router
