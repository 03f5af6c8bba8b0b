"""A user's rights over their own data: a copy of all of it, and its deletion."""

from __future__ import annotations

from pydantic import BaseModel, Field

from faultmaven.core.models import RequestModel

EXPORT_TASK = "privacy.export"
DELETE_TASK = "privacy.delete_account"
EXPORT_JOB = "data_export"
ARCHIVE_FORMAT_VERSION = 1


class AccountDeletion(RequestModel):
    """The password again (the step cannot be undone), and who inherits what others
    can still see: the user's shared cases and documents, and the organizations only
    they own. Without a successor those block the deletion (409)."""

    password: str = Field(min_length=1, max_length=128)
    successor_id: str | None = Field(default=None, max_length=64)


class DeletionAccepted(BaseModel):
    """The account is stopped (tokens revoked, no login) and is being erased: what will
    go to the successor and what will be deleted."""

    status: str = "scheduled"
    cases_to_hand_over: int
    cases_to_delete: int
    documents_to_hand_over: int
    documents_to_delete: int
    organizations_to_hand_over: int


class DeletionSummary(BaseModel):
    """What the erasing did (recorded in the audit trail)."""

    cases_deleted: int = 0
    cases_handed_over: int = 0
    documents_deleted: int = 0
    documents_handed_over: int = 0
    evidence_deleted: int = 0
    memberships_left: int = 0
    participations_left: int = 0
    sessions_ended: int = 0
