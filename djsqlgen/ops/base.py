"""What every operation offers: pure validation, a pure rewrite of the model, its data checks, its reverse."""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import Model


@dataclass(frozen=True)
class Operation:
    """One change between v1 and v2. Subclasses are frozen dataclasses registered in ``djsqlgen.ops``.

    ``plan_key`` is where the change is written in the plan; every problem names it.
    """

    plan_key: str

    def validate(self, model: Model) -> list[str]:
        """Problems that make the change impossible on ``model`` (nothing is changed). Pure."""
        return []

    def apply(self, model: Model) -> Model:
        """``model`` with the change made. Only called when ``validate`` found nothing. Pure."""
        return model

    def data_checks(self, model: Model) -> list[DataCheck]:
        """Conditions on v1's data the change relies on (``model`` is the result of ``apply``)."""
        return []

    def reverse(self) -> Operation | None:
        """The operation that undoes this one on v2's side, or None with ``irreversible`` saying why."""
        return None

    @property
    def irreversible(self) -> str:
        """Why the change cannot be reversed ('' when it can): what a write to v2 would lose in v1."""
        return "" if self.reverse() is not None else "no reverse operation"
