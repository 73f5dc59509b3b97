"""Shared pytest configuration: nothing global yet (each room has its own helpers)."""
