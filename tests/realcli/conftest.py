"""Fixtures for the real-CLI tests: the scripted model endpoint."""

from __future__ import annotations

from support.model_endpoint import model_endpoint

__all__ = ["model_endpoint"]
