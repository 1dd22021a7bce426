"""Policies applied to every connection: limits, origins, health."""
