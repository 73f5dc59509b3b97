"""A one-validator node home (``esoc devnet``'s layout) opened as a :class:`node.service.Node`."""

from __future__ import annotations

import os

import pytest

from cli.devnet import init_devnet
from node.config import Home, NodeConfig


def make_home(tmp_path, **settings) -> Home:
    """A fresh one-validator home under ``tmp_path`` with ``settings`` written to its config."""
    desc = init_devnet(str(tmp_path / "net"), 1, 40000, fast_kdf=True)
    home = Home(desc["nodes"][0]["home"])
    cfg = NodeConfig.load(home.config_file)
    for k, v in settings.items():
        setattr(cfg, k, v)
    cfg.save(home.config_file)
    return home


@pytest.fixture
def home(tmp_path) -> Home:
    return make_home(tmp_path)


@pytest.fixture
def node(home):
    from node.service import Node

    n = Node(home)
    yield n
    n.store.close()


__all__ = ["make_home", "os"]
