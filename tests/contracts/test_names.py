"""The names the checker admits are exactly the names the runtime provides."""

from types import MappingProxyType

from contracts.runtime import MemoryHost, instrument, methods
from contracts.runtime.executor import Machine
from contracts.runtime.hostapi import Ctx, State, Storage
from contracts.runtime.names import ATTRIBUTES, FORBIDDEN_NAMES, HOST_NAMES, LIBRARY_NAMES

KIND = {"str": str, "bytes": bytes, "list": list, "tuple": tuple, "dict": dict,
        "frozendict": MappingProxyType, "ctx": Ctx, "storage": Storage, "state": State}


def test_library_and_helpers_are_provided():
    m = Machine(MemoryHost(), 100, False)
    m.kit.busy = False
    assert set(m.builtins) == set(LIBRARY_NAMES)
    assert set(m.helpers) == set(instrument.HELPER_NAMES) | {"_cm", "_ga"}
    assert all(name.startswith("_") for name in m.helpers)
    assert not (LIBRARY_NAMES & set(FORBIDDEN_NAMES)) and not (HOST_NAMES & set(FORBIDDEN_NAMES))


def test_attribute_allowlist_matches_method_tables():
    for kind, names in ATTRIBUTES.items():
        cls = KIND[kind]
        provided = set(methods.METHODS.get(cls, {})) | set(methods.ATTRS.get(cls, {}))
        assert provided == set(names), kind
    assert set(methods.METHODS) | set(methods.ATTRS) == set(KIND.values())


def test_no_allowlisted_name_is_a_dunder_or_reflective():
    bad = {"format", "format_map", "mro", "gi_frame", "f_globals", "tb_frame", "real", "imag", "expandtabs", "ljust"}
    for names in ATTRIBUTES.values():
        assert not any(n.startswith("_") for n in names)
        assert not (names & bad)
