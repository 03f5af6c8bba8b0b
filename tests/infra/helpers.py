"""Reading synthesized templates: resources by type, and the logical id a construct got."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from constructs import IConstruct


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources(resource_type)
    return found


def logical_id(construct: IConstruct) -> str:
    element = construct.node.default_child if construct.node.default_child else construct
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
