"""Structured answers: a pydantic model offered to the model as the one tool it must call.

Forcing a tool call makes the provider return JSON in the tool's input instead of prose
that would need parsing. The input is validated against the model; when it does not
validate the model gets one chance to repair it (the validation errors are sent back as
the tool's error result), and a second failure is the caller's to handle, typically with
a deterministic fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from faultmaven.core.llm import (
    LLMRequest,
    Message,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from faultmaven.llm.retry import Deadline
from faultmaven.llm.service import CallScope, Completion, LanguageModels

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(Exception):
    """The model's answer did not fit the schema, even after one repair."""


@dataclass(frozen=True)
class Structured(Generic[T]):
    value: T
    completions: list[Completion]

    @property
    def completion(self) -> Completion:
        return self.completions[-1]


def tool_for(schema: type[BaseModel], name: str, description: str) -> ToolSpec:
    return ToolSpec(name=name, description=description, input_schema=schema.model_json_schema())


def _problems(exc: ValidationError) -> str:
    lines = [
        f"- {'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
        for error in exc.errors()[:20]
    ]
    return "The input did not validate:\n" + "\n".join(lines) + "\nCall the tool again, fixed."


def ask_structured(
    models: LanguageModels,
    schema: type[T],
    *,
    system: str,
    messages: list[Message],
    tool_name: str,
    tool_description: str,
    scope: CallScope,
    max_tokens: int = 1024,
    temperature: float | None = 0.0,
    deadline: Deadline | None = None,
) -> Structured[T]:
    tool = tool_for(schema, tool_name, tool_description)
    conversation = list(messages)
    completions: list[Completion] = []
    for round_ in range(2):
        request = LLMRequest(
            system=system,
            messages=conversation,
            tools=[tool],
            tool_choice=ToolChoice(type="tool", name=tool_name),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        step = scope.step if round_ == 0 else f"{scope.step} (repair)"
        completion = models.complete(
            request,
            scope=CallScope(
                step=step,
                case_id=scope.case_id,
                session_id=scope.session_id,
                stage_execution_id=scope.stage_execution_id,
            ),
            deadline=deadline,
        )
        completions.append(completion)
        calls = [u for u in completion.response.tool_uses if u.name == tool_name]
        if not calls:
            problem = "The answer must be a call of the tool " + tool_name + "."
            use = None
        else:
            use = calls[0]
            try:
                return Structured(schema.model_validate(use.input), completions)
            except ValidationError as exc:
                problem = _problems(exc)
        if use is None:
            conversation = [
                *conversation,
                Message(
                    role="assistant", content=[TextBlock(text=completion.response.text or ".")]
                ),
                Message.user(problem),
            ]
        else:
            conversation = [
                *conversation,
                Message(
                    role="assistant",
                    content=[ToolUseBlock(id=use.id, name=use.name, input=use.input)],
                ),
                Message(
                    role="user",
                    content=[ToolResultBlock(tool_use_id=use.id, content=problem, is_error=True)],
                ),
            ]
    raise StructuredOutputError(f"the answer did not fit {schema.__name__} after one repair")
