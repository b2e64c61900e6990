"""Reusable widgets: they render and route; they hold no domain logic."""
