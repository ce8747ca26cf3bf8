"""One jinja2 environment over sql_templates/, with the only identifier and literal quoting filters."""

from __future__ import annotations

import importlib.resources
from functools import lru_cache

import jinja2

from djsqlgen.sqltext.quoting import quote_identifier, quote_literal, quote_qualified

__all__ = ["environment", "quote_identifier", "quote_literal", "quote_qualified", "render"]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The environment: StrictUndefined (a missing variable is an error), templates from the package."""
    loader = jinja2.FunctionLoader(_load_template)
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["ident"] = quote_identifier
    env.filters["literal"] = quote_literal
    env.filters["qualified"] = quote_qualified
    return env


def _load_template(name: str) -> str:
    resource = importlib.resources.files("djsqlgen.sql_templates").joinpath(name)
    if not resource.is_file():
        raise jinja2.TemplateNotFound(name)
    return resource.read_text(encoding="utf-8")


def render(template: str, **context: object) -> str:
    """Render ``template`` (``trigger_create.sql.j2``) and strip blank edges."""
    return environment().get_template(template).render(**context).strip()
