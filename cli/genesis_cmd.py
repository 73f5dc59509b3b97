"""``esoc genesis ...`` (filled in below)."""

import click


@click.group()
def genesis():
    """Operators' genesis tooling: new, add-account, add-validator, add-law, validate."""
