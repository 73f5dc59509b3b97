"""``esoc payroll ...`` (filled in below)."""

import click


@click.group()
def payroll():
    """Enterprise payroll: preview and run a CSV of wages through the tax law."""
