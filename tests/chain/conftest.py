"""Fixtures of the chain tests: worlds that close themselves."""

from __future__ import annotations

import pytest

from . import World


@pytest.fixture
def worlds(tmp_path):
    """``worlds(name="node", genesis=None)`` makes a :class:`World` closed at teardown."""
    made: list[World] = []

    def make(name: str = "node", genesis=None) -> World:
        world = World(tmp_path, name, genesis=genesis)
        made.append(world)
        return world

    yield make
    for world in made:
        world.close()


@pytest.fixture
def w(worlds):
    return worlds()
