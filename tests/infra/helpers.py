"""Reading synthesized templates: resources by type, and the logical id a construct got."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from constructs import IConstruct


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources(resource_type)
    return found


def logical_id(construct: IConstruct) -> str:
    """Of the construct's resource: its default child, or the child's (an L3 such as a
    Trigger wraps a CustomResource, which wraps the CfnResource)."""
    element = construct
    while not isinstance(element, cdk.CfnElement) and element.node.default_child is not None:
        element = element.node.default_child
    assert isinstance(element, cdk.CfnElement)
    return cdk.Stack.of(element).get_logical_id(element)


def statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to one role in this template."""
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def object_prefixes(granted: list[dict[str, Any]]) -> set[str]:
    """The key prefixes (`artifacts`, `knowledge`, ...) that object actions (anything
    of S3 but ListBucket) are granted on in these statements."""
    prefixes = set()
    for statement in granted:
        if any(a.startswith("s3:") and a != "s3:ListBucket" for a in as_list(statement["Action"])):
            for resource in as_list(statement["Resource"]):
                match = re.search(r'/([a-z]+)/\*"\]\]\}$', json.dumps(resource))
                assert match is not None, resource
                prefixes.add(match.group(1))
    return prefixes


def roles_granted(template: Template, action: str) -> dict[str, list[Any]]:
    """Role logical id → the resources of every statement granting `action` to it."""
    found: dict[str, list[Any]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if action in as_list(statement["Action"]):
                for role in policy["Properties"].get("Roles", []):
                    found.setdefault(role["Ref"], []).extend(as_list(statement["Resource"]))
    return found
