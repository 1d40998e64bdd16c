"""The web dashboard (plain HTML + one script, no build step) mounted beside the HTTP API at ``/``."""

from animus.web._dashboard import CSP, STATIC_DIR, asset_names, create_app, dashboard_routes, dashboard_url

__all__ = ["CSP", "STATIC_DIR", "asset_names", "create_app", "dashboard_routes", "dashboard_url"]
