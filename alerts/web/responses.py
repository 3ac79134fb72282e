"""Output models of the JSON API: what a response holds, and its OpenAPI schema, in one place.

Every JSON body ``/api/v1`` answers is an :class:`OutputModel` dumped with
``model_dump(mode="json")``; ``alerts.web.openapi`` writes the document's
response schemas from the same classes. Features keep their own models
(``alerts/<feature>/responses.py``); the shapes shared by all live here: the
paged list and the RFC 9457 problem.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema


class OutputModel(BaseModel):
    """A response body (or part of one). Unknown keys are an error, so the model stays the
    whole truth about the shape: a serializer cannot slip in a field the document lacks."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The body as JSON-ready data (what views answer)."""
        return self.model_dump(mode="json")


class OmitsAbsent(OutputModel):
    """A model whose ``OMITTED_WHEN_NONE`` fields are left out of the body when they are None
    (the document types them without null and does not require them)."""

    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()

    # No return annotation: pydantic would take it for the serialized schema.
    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in self.OMITTED_WHEN_NONE)
        }


Item = TypeVar("Item")


class Page(OutputModel, Generic[Item]):
    """A list: ``{"items": [...], "next": <cursor or null>}``."""

    items: list[Item]
    next: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )


class FieldProblem(OutputModel):
    field: str = Field(description="Dotted path of the field at fault, e.g. texts.sv.headline")
    message: str


class Problem(OmitsAbsent):
    """An error, as RFC 9457 ``application/problem+json``."""

    OMITTED_WHEN_NONE = frozenset({"field", "errors", "suggestions", "retry_after"})

    type: str = Field(description="about:blank, or a problem type URI for invalid input")
    title: str
    status: int
    detail: str
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="The first field at fault (with errors)"
    )
    errors: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="Every field at fault, when the input was invalid"
    )
    suggestions: list[dict[str, Any]] | SkipJsonSchema[None] = Field(
        default=None, description="For an address not in the register: the closest that are"
    )
    retry_after: int | SkipJsonSchema[None] = Field(
        default=None, description="Seconds until a request over a limit may succeed"
    )
