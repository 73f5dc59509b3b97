"""The explorer's governance pages (declared in :data:`ROUTES`, served by :mod:`explorer.app`)."""

from __future__ import annotations

from .routing import Page

ROUTES: list[Page] = []
