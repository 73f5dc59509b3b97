"""Pilot reports and enactment records: written by block execution only.

Which policy this implements
----------------------------
Before the congress votes on a law's new source, every node runs the pilot
inside block execution (``chain/pilot.py``): it checks the new source
against the contract subset, then replays the law's recent calls and the
proposer's scenario with the new code and with the code in force, a few
calls per block, each with a fixed gas budget, over the state of the block
before.  The verdict and the hash of the full report land here, at
``report:<proposal id>``, in the same bytes on every node; the congress
opens the vote only on a report that says ``ok``.

When the chain enacts a decision (at the beginning of its activation block)
it records the outcome at ``enacted:<proposal id>``.

This law has no entries: no transaction can write its storage.  Anyone can
read it, and ``esoc gov pilot ID --recompute`` recomputes a report.
"""

LAW = "pilot"
VERSION = 1

ENTRIES = ()
VIEWS = ("report", "enacted", "version")


def version() -> dict:
    """This law's name and version."""
    return {"law": LAW, "version": VERSION}


def report(id: int) -> dict | None:
    """The pilot verdict of proposal ``id``: ok, reason, hash, calls, accounts."""
    return storage.get("report:" + str(id))


def enacted(id: int) -> dict | None:
    """How the chain enacted proposal ``id``: ok, height, error."""
    return storage.get("enacted:" + str(id))
