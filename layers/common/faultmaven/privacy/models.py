"""A user's rights over their own data: a copy of all of it, and its deletion."""

from __future__ import annotations

from pydantic import BaseModel, Field

from faultmaven.core.models import RequestModel

EXPORT_TASK = "privacy.export"
EXPORT_JOB = "data_export"
ARCHIVE_FORMAT_VERSION = 1


class AccountDeletion(RequestModel):
    """The password again (the step cannot be undone), and who inherits what others
    can still see: the user's shared cases and documents, and the organizations only
    they own. Without a successor those block the deletion (409)."""

    password: str = Field(min_length=1, max_length=128)
    successor_id: str | None = Field(default=None, max_length=64)


class DeletionSummary(BaseModel):
    cases_deleted: int
    cases_handed_over: int
    documents_deleted: int
    documents_handed_over: int
    evidence_deleted: int
    memberships_left: int
    participations_left: int
    sessions_ended: int
