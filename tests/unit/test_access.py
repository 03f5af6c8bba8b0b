"""Case access rules over every combination of relation, role and visibility."""

from __future__ import annotations

import itertools

import pytest

from faultmaven.cases.access import Access, access_of, effective_role, require
from faultmaven.cases.models import ParticipantRole as R
from faultmaven.cases.models import Visibility as V
from faultmaven.core.errors import ForbiddenError, NotFoundError
from faultmaven.organizations.models import Scopes

ME, OWNER = "usr_me", "usr_owner"
TEAM, ORG = "team_a", "org_a"


def role(**overrides: object) -> R | None:
    facts: dict[str, object] = {
        "user_id": ME,
        "is_admin": False,
        "owner_id": OWNER,
        "participant_role": None,
        "visibility": V.PRIVATE,
        "team_id": TEAM,
        "org_id": ORG,
        "scopes": Scopes(),
    }
    facts.update(overrides)
    return effective_role(**facts)  # type: ignore[arg-type]


def test_owner_and_admin_manage() -> None:
    assert role(owner_id=ME) is R.OWNER
    assert role(is_admin=True) is R.OWNER
    assert role(participant_role=R.OWNER) is R.OWNER


@pytest.mark.parametrize("participant", [R.COLLABORATOR, R.VIEWER])
def test_participants_get_their_role(participant: R) -> None:
    assert role(participant_role=participant) is participant


def test_a_stranger_sees_nothing_whatever_the_visibility_and_groups() -> None:
    for visibility, teams, orgs in itertools.product(V, [set(), {"team_b"}], [set(), {"org_b"}]):
        scopes = Scopes(org_ids=frozenset(orgs), team_ids=frozenset(teams))
        assert role(visibility=visibility, scopes=scopes) is None


def test_group_members_read_only_when_shared_with_their_group() -> None:
    in_team = Scopes(org_ids=frozenset({ORG}), team_ids=frozenset({TEAM}))
    in_org = Scopes(org_ids=frozenset({ORG}))
    assert role(visibility=V.TEAM, scopes=in_team) is R.VIEWER
    assert role(visibility=V.TEAM, scopes=in_org) is None
    assert role(visibility=V.ORGANIZATION, scopes=in_org) is R.VIEWER
    assert role(visibility=V.ORGANIZATION, scopes=in_team) is R.VIEWER
    assert role(visibility=V.PRIVATE, scopes=in_team) is None
    assert role(visibility=V.TEAM, team_id=None, scopes=in_team) is None


def test_an_explicit_role_beats_group_visibility() -> None:
    in_org = Scopes(org_ids=frozenset({ORG}))
    assert (
        role(visibility=V.ORGANIZATION, scopes=in_org, participant_role=R.COLLABORATOR)
        is R.COLLABORATOR
    )


@pytest.mark.parametrize(
    ("who", "needed", "outcome"),
    [
        (None, Access.READ, NotFoundError),
        (None, Access.MANAGE, NotFoundError),
        (R.VIEWER, Access.READ, None),
        (R.VIEWER, Access.WRITE, ForbiddenError),
        (R.COLLABORATOR, Access.WRITE, None),
        (R.COLLABORATOR, Access.MANAGE, ForbiddenError),
        (R.OWNER, Access.MANAGE, None),
    ],
)
def test_require(who: R | None, needed: Access, outcome: type[Exception] | None) -> None:
    if outcome is None:
        require(who, needed)
    else:
        with pytest.raises(outcome):
            require(who, needed)


def test_access_levels_are_ordered() -> None:
    assert access_of(None) < access_of(R.VIEWER) < access_of(R.COLLABORATOR) < access_of(R.OWNER)


def test_an_analyst_reads_every_case_and_changes_none() -> None:
    from faultmaven.cases.access import Access, access_of, effective_role
    from faultmaven.cases.models import ParticipantRole, Visibility
    from faultmaven.organizations.models import Scopes

    for visibility in Visibility:
        role = effective_role(
            user_id="usr_a",
            is_admin=False,
            owner_id="usr_o",
            participant_role=None,
            visibility=visibility,
            team_id=None,
            org_id=None,
            scopes=Scopes(),
            is_analyst=True,
        )
        assert access_of(role) is Access.READ
    # A stronger role on the case still counts.
    assert (
        effective_role(
            user_id="usr_a",
            is_admin=False,
            owner_id="usr_o",
            participant_role=ParticipantRole.COLLABORATOR,
            visibility=Visibility.PRIVATE,
            team_id=None,
            org_id=None,
            scopes=None,
            is_analyst=True,
        )
        is ParticipantRole.COLLABORATOR
    )
