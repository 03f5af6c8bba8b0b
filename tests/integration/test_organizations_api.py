"""/api/v1/organizations and /api/v1/teams."""

from __future__ import annotations

from tests.helpers import Api, User, assert_envelope


def org_with(api: Api, owner: User, *members: User) -> str:
    org_id: str = api.call("POST", "/organizations", owner, json={"name": "Acme"}).json()["org_id"]
    for member in members:
        added = api.call(
            "POST", f"/organizations/{org_id}/members", owner, json={"user_id": member.user_id}
        )
        assert added.status_code == 201, added.text
    return org_id


def test_create_list_and_read(api: Api) -> None:
    owner, member, outsider = api.user(), api.user(), api.user()
    created = api.call("POST", "/organizations", owner, json={"name": "Acme SRE"})
    assert created.status_code == 201
    assert created.json()["my_role"] == "owner"
    org_id = created.json()["org_id"]
    api.call("POST", f"/organizations/{org_id}/members", owner, json={"user_id": member.user_id})
    mine = api.call("GET", "/organizations", member).json()
    assert [(o["org_id"], o["my_role"]) for o in mine["items"]] == [(org_id, "member")]
    assert api.call("GET", f"/organizations/{org_id}", member).status_code == 200
    assert_envelope(
        api.call("GET", f"/organizations/{org_id}", outsider), 404, "ORGANIZATION_NOT_FOUND"
    )
    assert api.call("GET", "/organizations", outsider).json()["total"] == 0
    members = api.call("GET", f"/organizations/{org_id}/members?page_size=1", member).json()
    assert (members["total"], members["total_pages"]) == (2, 2)


def test_only_owners_and_admins_manage_members_and_teams(api: Api) -> None:
    owner, member, newcomer = api.user(), api.user(), api.user()
    org_id = org_with(api, owner, member)
    assert_envelope(
        api.call(
            "POST", f"/organizations/{org_id}/members", member, json={"user_id": newcomer.user_id}
        ),
        403,
    )
    assert_envelope(
        api.call("POST", f"/organizations/{org_id}/teams", member, json={"name": "x"}), 403
    )
    promoted = api.call(
        "POST",
        f"/organizations/{org_id}/members",
        owner,
        json={"user_id": member.user_id, "role": "admin"},
    )
    assert promoted.json()["role"] == "admin"
    assert (
        api.call(
            "POST", f"/organizations/{org_id}/members", member, json={"user_id": newcomer.user_id}
        ).status_code
        == 201
    )


def test_outsiders_cannot_touch_an_organization_or_its_teams(api: Api) -> None:
    owner, outsider = api.user(), api.user()
    org_id = org_with(api, owner)
    team_id = api.call(
        "POST", f"/organizations/{org_id}/teams", owner, json={"name": "SRE"}
    ).json()["team_id"]
    assert_envelope(
        api.call(
            "POST", f"/organizations/{org_id}/members", outsider, json={"user_id": outsider.user_id}
        ),
        404,
    )
    assert_envelope(api.call("GET", f"/organizations/{org_id}/teams", outsider), 404)
    assert_envelope(
        api.call("POST", f"/teams/{team_id}/members", outsider, json={"user_id": outsider.user_id}),
        404,
        "TEAM_NOT_FOUND",
    )


def test_teams_take_only_organization_members(api: Api) -> None:
    owner, member, outsider = api.user(), api.user(), api.user()
    org_id = org_with(api, owner, member)
    team = api.call("POST", f"/organizations/{org_id}/teams", owner, json={"name": "Payments"})
    assert team.status_code == 201
    team_id = team.json()["team_id"]
    assert_envelope(
        api.call("POST", f"/organizations/{org_id}/teams", owner, json={"name": "Payments"}),
        409,
        "TEAM_EXISTS",
    )
    assert_envelope(
        api.call("POST", f"/teams/{team_id}/members", owner, json={"user_id": outsider.user_id}),
        422,
        "NOT_AN_ORG_MEMBER",
    )
    assert (
        api.call(
            "POST", f"/teams/{team_id}/members", owner, json={"user_id": member.user_id}
        ).status_code
        == 201
    )
    teams = api.call("GET", f"/organizations/{org_id}/teams", member).json()
    assert [t["name"] for t in teams["items"]] == ["Payments"]


def test_leaving_the_organization_leaves_its_teams(api: Api) -> None:
    owner, member = api.user(), api.user()
    org_id = org_with(api, owner, member)
    team_id = api.call(
        "POST", f"/organizations/{org_id}/teams", owner, json={"name": "SRE"}
    ).json()["team_id"]
    for user in (owner, member):
        api.call("POST", f"/teams/{team_id}/members", owner, json={"user_id": user.user_id})
    case = api.case(owner, visibility="team", team_id=team_id)
    assert api.call("GET", f"/cases/{case['case_id']}", member).status_code == 200
    assert (
        api.call("DELETE", f"/organizations/{org_id}/members/{member.user_id}", owner).status_code
        == 204
    )
    assert_envelope(api.call("GET", f"/cases/{case['case_id']}", member), 404)
    assert_envelope(
        api.call("DELETE", f"/organizations/{org_id}/members/{member.user_id}", owner), 404
    )


def test_the_last_owner_cannot_leave(api: Api) -> None:
    owner = api.user()
    org_id = org_with(api, owner)
    assert_envelope(
        api.call("DELETE", f"/organizations/{org_id}/members/{owner.user_id}", owner),
        409,
        "LAST_OWNER",
    )


def test_removing_a_team_member(api: Api) -> None:
    owner, member = api.user(), api.user()
    org_id = org_with(api, owner, member)
    team_id = api.call(
        "POST", f"/organizations/{org_id}/teams", owner, json={"name": "SRE"}
    ).json()["team_id"]
    api.call("POST", f"/teams/{team_id}/members", owner, json={"user_id": member.user_id})
    assert (
        api.call("DELETE", f"/teams/{team_id}/members/{member.user_id}", owner).status_code == 204
    )
    assert_envelope(
        api.call("DELETE", f"/teams/{team_id}/members/{member.user_id}", owner),
        404,
        "MEMBER_NOT_FOUND",
    )


def test_bad_organization_input(api: Api) -> None:
    owner = api.user()
    for body in ({"name": ""}, {"name": "x" * 129}, {}, {"name": "ok", "extra": 1}):
        assert_envelope(api.call("POST", "/organizations", owner, json=body), 422)
    assert api.call("GET", "/organizations", owner).json()["total"] == 0
    org_id = org_with(api, owner)
    assert_envelope(
        api.call("POST", f"/organizations/{org_id}/members", owner, json={"user_id": "usr_nobody"}),
        404,
        "USER_NOT_FOUND",
    )
    assert_envelope(
        api.call(
            "POST", f"/organizations/{org_id}/members", owner, json={"user_id": "u", "role": "king"}
        ),
        422,
    )


def test_only_owners_touch_ownership(api: Api) -> None:
    alice, bob, carol = api.user(), api.user(), api.user()
    org_id = org_with(api, alice, bob, carol)
    made_admin = api.call(
        "POST",
        f"/organizations/{org_id}/members",
        alice,
        json={"user_id": bob.user_id, "role": "admin"},
    )
    assert made_admin.status_code == 200  # an existing member: a role change, not a creation
    # An admin can neither demote nor remove an owner, nor make anyone an owner.
    for body in (
        {"user_id": alice.user_id, "role": "member"},
        {"user_id": carol.user_id, "role": "owner"},
    ):
        assert_envelope(
            api.call("POST", f"/organizations/{org_id}/members", bob, json=body), 403, "OWNERS_ONLY"
        )
    assert_envelope(
        api.call("DELETE", f"/organizations/{org_id}/members/{alice.user_id}", bob),
        403,
        "OWNERS_ONLY",
    )
    # The only owner cannot hand the organization to nobody.
    assert_envelope(
        api.call(
            "POST",
            f"/organizations/{org_id}/members",
            alice,
            json={"user_id": alice.user_id, "role": "member"},
        ),
        409,
        "LAST_OWNER",
    )
    # With a second owner, the first may step down.
    api.call(
        "POST",
        f"/organizations/{org_id}/members",
        alice,
        json={"user_id": carol.user_id, "role": "owner"},
    )
    stepped_down = api.call(
        "POST",
        f"/organizations/{org_id}/members",
        alice,
        json={"user_id": alice.user_id, "role": "member"},
    )
    assert stepped_down.status_code == 200
    roles = {
        m["user_id"]: m["role"]
        for m in api.call("GET", f"/organizations/{org_id}/members", carol).json()["items"]
    }
    assert roles == {alice.user_id: "member", bob.user_id: "admin", carol.user_id: "owner"}


def test_a_member_may_leave(api: Api) -> None:
    owner, member = api.user(), api.user()
    org_id = org_with(api, owner, member)
    assert (
        api.call("DELETE", f"/organizations/{org_id}/members/{member.user_id}", member).status_code
        == 204
    )
    assert_envelope(api.call("GET", f"/organizations/{org_id}", member), 404)
