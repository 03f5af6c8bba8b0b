"""Preprocessing: turning an uploaded artifact into sanitized, searchable insights."""
