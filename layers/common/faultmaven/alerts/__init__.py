"""Alerts: Alertmanager's webhook opens cases and starts their investigations."""
