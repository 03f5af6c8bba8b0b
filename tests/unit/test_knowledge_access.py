"""Knowledge document access: the reader tokens stored with a chunk and the access the
service computes from PostgreSQL must never disagree, whatever the facts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultmaven.core.errors import ForbiddenError, NotFoundError
from faultmaven.core.vectors import (
    EVERYONE,
    Scope,
    SearchFilter,
    VectorHit,
    org_token,
    team_token,
    user_token,
)
from faultmaven.knowledge.access import (
    DocumentAccess,
    DocumentFacts,
    Grant,
    access_of,
    caller_tokens,
    readers_of,
    require,
)
from faultmaven.knowledge.models import GranteeType, Permission, Visibility
from faultmaven.organizations.models import Scopes

# Small pools, so that callers, owners, grantees and groups collide often.
USERS = ("usr_a", "usr_b", "usr_c")
TEAMS = ("team_a", "team_b")
ORGS = ("org_a", "org_b")
OWNER, READER, WRITER, OTHER = "usr_owner", "usr_reader", "usr_writer", "usr_other"

users = st.sampled_from(USERS)
team_ids = st.sampled_from(TEAMS)
org_ids = st.sampled_from(ORGS)


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    kind = draw(st.sampled_from(GranteeType))
    pool = {GranteeType.USER: users, GranteeType.TEAM: team_ids}.get(kind, org_ids)
    return Grant(kind, draw(pool), draw(st.sampled_from(Permission)))


facts_strategy = st.builds(
    DocumentFacts,
    scope=st.sampled_from(Scope),
    owner_id=st.none() | users,
    visibility=st.sampled_from(Visibility),
    team_id=st.none() | team_ids,
    org_id=st.none() | org_ids,
    grants=st.lists(grants(), max_size=4).map(tuple),
)
scopes_strategy = st.builds(
    Scopes,
    org_ids=st.frozensets(org_ids),
    team_ids=st.frozensets(team_ids),
)


def hit_of(
    facts: DocumentFacts, *, document_id: str = "kbd_1", tags: tuple[str, ...] = ()
) -> VectorHit:
    return VectorHit(
        chunk_id=f"{document_id}-0",
        document_id=document_id,
        scope=facts.scope,
        ordinal=0,
        text="text",
        score=1.0,
        readers=readers_of(facts),
        tags=tags,
    )


@settings(max_examples=1000)
@given(facts=facts_strategy, user_id=users, scopes=scopes_strategy)
def test_reader_tokens_overlap_exactly_when_the_caller_may_read(
    facts: DocumentFacts, user_id: str, scopes: Scopes
) -> None:
    overlap = not readers_of(facts).isdisjoint(caller_tokens(user_id, scopes))
    assert overlap == (access_of(user_id, False, scopes, facts) >= DocumentAccess.READ)


@settings(max_examples=1000)
@given(
    facts=facts_strategy,
    user_id=users,
    scopes=scopes_strategy,
    searched=st.frozensets(st.sampled_from(Scope), min_size=1),
)
def test_the_search_filter_admits_exactly_what_the_caller_may_read(
    facts: DocumentFacts, user_id: str, scopes: Scopes, searched: frozenset[Scope]
) -> None:
    where = SearchFilter(scopes=searched, readers=caller_tokens(user_id, scopes))
    may_read = access_of(user_id, False, scopes, facts) >= DocumentAccess.READ
    assert where.admits(hit_of(facts)) == (facts.scope in searched and may_read)


@given(
    facts=facts_strategy,
    user_id=users,
    scopes=scopes_strategy,
    wanted_documents=st.frozensets(st.sampled_from(("kbd_1", "kbd_2")), max_size=2),
    wanted_tags=st.frozensets(st.sampled_from(("db", "net")), max_size=2),
    tags=st.lists(st.sampled_from(("db", "net", "dns")), max_size=3).map(tuple),
)
def test_narrowing_a_search_never_widens_it(
    facts: DocumentFacts,
    user_id: str,
    scopes: Scopes,
    wanted_documents: frozenset[str],
    wanted_tags: frozenset[str],
    tags: tuple[str, ...],
) -> None:
    where = SearchFilter(
        scopes=frozenset(Scope),
        readers=caller_tokens(user_id, scopes),
        document_ids=wanted_documents,
        tags=wanted_tags,
    )
    hit = hit_of(facts, tags=tags)
    may_read = access_of(user_id, False, scopes, facts) >= DocumentAccess.READ
    expected = (
        may_read
        and (not wanted_documents or "kbd_1" in wanted_documents)
        and (not wanted_tags or not wanted_tags.isdisjoint(tags))
    )
    assert where.admits(hit) == expected


@given(facts=facts_strategy, user_id=users, scopes=scopes_strategy)
def test_admins_manage_every_document_and_read_nothing_more_by_token(
    facts: DocumentFacts, user_id: str, scopes: Scopes
) -> None:
    assert access_of(user_id, True, scopes, facts) is DocumentAccess.MANAGE
    # An admin searches with the same tokens as anyone: admin rights are by id only.
    assert caller_tokens(user_id, scopes) == frozenset(
        {user_token(user_id), EVERYONE}
        | {team_token(t) for t in scopes.team_ids}
        | {org_token(o) for o in scopes.org_ids}
    )


# --- explicit cases -----------------------------------------------------------------


def user_document(
    visibility: Visibility = Visibility.SHARED, *grants: Grant, team: str = "team_a"
) -> DocumentFacts:
    return DocumentFacts(
        scope=Scope.USER,
        owner_id=OWNER,
        visibility=visibility,
        team_id=team,
        org_id="org_a",
        grants=grants,
    )


EVERY_GROUP = Scopes(org_ids=frozenset(ORGS), team_ids=frozenset(TEAMS))


def test_a_private_document_with_grants_is_read_by_its_owner_only() -> None:
    facts = user_document(
        Visibility.PRIVATE,
        Grant(GranteeType.USER, READER, Permission.READ),
        Grant(GranteeType.TEAM, "team_a", Permission.WRITE),
        Grant(GranteeType.ORGANIZATION, "org_a", Permission.READ),
    )
    assert readers_of(facts) == {user_token(OWNER)}
    assert access_of(OWNER, False, Scopes(), facts) is DocumentAccess.MANAGE
    for user in (READER, OTHER):
        assert access_of(user, False, EVERY_GROUP, facts) is DocumentAccess.NONE


def test_write_grants_give_write_and_the_best_grant_wins() -> None:
    facts = user_document(
        Visibility.SHARED,
        Grant(GranteeType.USER, READER, Permission.READ),
        Grant(GranteeType.USER, WRITER, Permission.WRITE),
        Grant(GranteeType.TEAM, "team_a", Permission.WRITE),
        Grant(GranteeType.ORGANIZATION, "org_a", Permission.READ),
    )
    assert access_of(READER, False, Scopes(), facts) is DocumentAccess.READ
    assert access_of(WRITER, False, Scopes(), facts) is DocumentAccess.WRITE
    in_org = Scopes(org_ids=frozenset({"org_a"}))
    in_team = Scopes(org_ids=frozenset({"org_a"}), team_ids=frozenset({"team_a"}))
    assert access_of(OTHER, False, in_org, facts) is DocumentAccess.READ
    assert access_of(OTHER, False, in_team, facts) is DocumentAccess.WRITE
    assert access_of(READER, False, in_team, facts) is DocumentAccess.WRITE
    assert access_of(OTHER, False, Scopes(), facts) is DocumentAccess.NONE
    assert readers_of(facts) == {
        user_token(OWNER),
        user_token(READER),
        user_token(WRITER),
        team_token("team_a"),
        org_token("org_a"),
    }


@pytest.mark.parametrize(
    ("visibility", "scopes", "expected"),
    [
        (Visibility.TEAM, Scopes(team_ids=frozenset({"team_a"})), DocumentAccess.READ),
        (Visibility.TEAM, Scopes(org_ids=frozenset({"org_a"})), DocumentAccess.NONE),
        (Visibility.ORGANIZATION, Scopes(org_ids=frozenset({"org_a"})), DocumentAccess.READ),
        (Visibility.ORGANIZATION, Scopes(team_ids=frozenset({"team_a"})), DocumentAccess.NONE),
        (Visibility.SHARED, EVERY_GROUP, DocumentAccess.NONE),
        (Visibility.PRIVATE, EVERY_GROUP, DocumentAccess.NONE),
    ],
)
def test_visibility_reads_for_members_of_the_documents_own_group(
    visibility: Visibility, scopes: Scopes, expected: DocumentAccess
) -> None:
    assert access_of(OTHER, False, scopes, user_document(visibility)) is expected


@pytest.mark.parametrize("visibility", list(Visibility))
def test_an_admin_manages_any_user_document(visibility: Visibility) -> None:
    assert access_of(OTHER, True, Scopes(), user_document(visibility)) is DocumentAccess.MANAGE


def test_global_documents_are_read_by_users_and_managed_by_admins() -> None:
    facts = DocumentFacts(
        scope=Scope.GLOBAL,
        owner_id=None,
        visibility=Visibility.ORGANIZATION,
        team_id=None,
        org_id=None,
    )
    assert readers_of(facts) == {EVERYONE}
    assert access_of(OTHER, False, Scopes(), facts) is DocumentAccess.READ
    assert access_of(OTHER, True, Scopes(), facts) is DocumentAccess.MANAGE
    # Even the admin who wrote it is only a reader once they lose the admin role.
    authored = DocumentFacts(Scope.GLOBAL, OWNER, Visibility.ORGANIZATION, None, None)
    assert access_of(OWNER, False, Scopes(), authored) is DocumentAccess.READ


def test_require_hides_what_the_caller_cannot_see_and_refuses_what_they_cannot_do() -> None:
    with pytest.raises(NotFoundError) as hidden:
        require(DocumentAccess.NONE, DocumentAccess.READ)
    assert hidden.value.error_code == "DOCUMENT_NOT_FOUND"
    with pytest.raises(ForbiddenError) as refused:
        require(DocumentAccess.READ, DocumentAccess.WRITE)
    assert refused.value.error_code == "INSUFFICIENT_DOCUMENT_PERMISSION"
    assert refused.value.details == {"permission": "read", "needed": "write"}
    with pytest.raises(ForbiddenError):
        require(DocumentAccess.WRITE, DocumentAccess.MANAGE)
    for granted in (DocumentAccess.READ, DocumentAccess.WRITE, DocumentAccess.MANAGE):
        for needed in DocumentAccess:
            if DocumentAccess.NONE < needed <= granted:
                require(granted, needed)  # does not raise
