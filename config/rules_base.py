"""The vocabulary shared by every part of the rules model: segments, priorities, health
components, the strict (frozen, no unknown fields) base model and the ratio type."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SEGMENTS = ("enterprise", "mid_market", "smb")
PRIORITIES = ("low", "medium", "high", "critical")
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
COMPONENTS = ("usage", "adoption", "engagement", "satisfaction", "support")
CONDITION_KIND = "condition"

Priority = Literal["low", "medium", "high", "critical"]
SegmentName = Literal["enterprise", "mid_market", "smb"]

Ratio = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def priority_rank(priority: str) -> int:
    return PRIORITY_RANK[priority]
