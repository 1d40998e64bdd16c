"""Test fixtures shared across the suite (fake repos, model endpoint, helpers)."""
