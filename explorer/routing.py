"""The explorer's route declarations: query and path parameters, and :class:`Page`.

A room of the explorer (the core pages in :mod:`explorer.app`, governance in
:mod:`explorer.governance`, planning in :mod:`explorer.plan`) declares its
pages as a list of :class:`Page`; :mod:`explorer.app` serves them all, with
their JSON twins, CSV and the OpenAPI document.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from starlette.requests import Request

from .views import MAX_HEIGHT, BadRequest


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    kind: str = "int"  # int | str
    default: Any = None
    lo: int = 1
    hi: int = 100
    max_len: int = 256
    doc: str = ""

    def parse(self, request: Request):
        vals = request.query_params.getlist(self.name)
        if not vals:
            return self.default
        if len(vals) > 1:
            raise BadRequest(f"parameter {self.name!r} given {len(vals)} times")
        raw = vals[0]
        if self.kind == "str":
            if any(ord(c) < 32 and c not in "\t" for c in raw):
                raise BadRequest(f"parameter {self.name!r} contains a control character")
            if len(raw) > self.max_len:
                raise BadRequest(f"parameter {self.name!r} is longer than {self.max_len} characters")
            return raw
        if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
            raise BadRequest(f"parameter {self.name!r} must be a whole number from {self.lo} to {self.hi}")
        v = int(raw)
        if not self.lo <= v <= self.hi:
            raise BadRequest(f"parameter {self.name!r} must be from {self.lo} to {self.hi}, not {v}")
        return v

    def schema(self) -> dict:
        s: dict = ({"type": "integer", "minimum": self.lo, "maximum": self.hi} if self.kind == "int"
                   else {"type": "string", "maxLength": self.max_len})
        if self.default is not None:
            s["default"] = self.default
        return {"name": self.name, "in": "query", "required": False, "schema": s, "description": self.doc}


PAGE = Param("page", default=1, lo=1, hi=10_000, doc="page number, from 1")
LIMIT = Param("limit", default=25, lo=1, hi=100, doc="items per page (at most 100)")


@dataclasses.dataclass(frozen=True)
class PathParam:
    name: str
    kind: str  # int | hash | address | law
    doc: str = ""

    def schema(self) -> dict:
        s = {"int": {"type": "integer", "minimum": 1, "maximum": MAX_HEIGHT},
             "hash": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
             "address": {"type": "string", "maxLength": 128},
             "law": {"type": "string", "maxLength": 64}}[self.kind]
        return {"name": self.name, "in": "path", "required": True, "schema": s, "description": self.doc}


@dataclasses.dataclass(frozen=True)
class Page:
    path: str  # Starlette path, e.g. /block/{height:int}
    view: Callable
    template: str | None
    summary: str
    params: tuple = ()
    path_params: tuple = ()
    csv: Callable | None = None  # data -> rows (header first): served at path + ".csv"
    schema: dict | None = None  # the JSON twin's response shape (else openapi.RESPONSES[path])

    @property
    def openapi_path(self) -> str:
        return self.path.replace(":int", "")



__all__ = ["LIMIT", "PAGE", "Page", "Param", "PathParam"]
