"""Password hashing (Argon2id through argon2-cffi) and the strength policy (zxcvbn)."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from faultmaven.core.errors import ValidationFailedError

MIN_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline attacks"
# zxcvbn refuses longer input (its matching is quadratic-ish), so strength is judged on
# this prefix and the whole password is hashed. A password whose first 72 characters are
# unguessable is at least as strong whole; one whose prefix is weak must be rephrased. The
# longest password accepted is `auth.models.MAX_PASSWORD_CHARS`.
STRENGTH_CHECKED_CHARS = 72


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    @cached_property
    def _decoy_hash(self) -> str:
        """Verifying against this when the account does not exist makes a miss cost as
        much as a hit, so response time does not reveal which accounts exist. Built on
        first use: functions that never log anyone in should not pay for it at start."""
        return self._hasher.hash("decoy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def check_strength(password: str, *, user_inputs: list[str]) -> None:
    """Reject guessable passwords with a 422 that says why."""
    from zxcvbn import zxcvbn

    result = zxcvbn(
        password[:STRENGTH_CHECKED_CHARS],
        user_inputs=[u for u in user_inputs if u],
        max_length=STRENGTH_CHECKED_CHARS,
    )
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback", {})
        hints = [h for h in [feedback.get("warning"), *feedback.get("suggestions", [])] if h]
        raise ValidationFailedError(
            "The password is too weak",
            error_code="WEAK_PASSWORD",
            details=[
                {"field": "password", "message": hint, "type": "weak_password"} for hint in hints
            ]
            or [
                {
                    "field": "password",
                    "message": "choose a longer, less common password",
                    "type": "weak_password",
                }
            ],
        )
