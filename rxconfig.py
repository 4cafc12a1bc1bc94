"""Reflex configuration. The database URL comes from `efoy_app.settings` (one source of truth).

`reflex run --env prod` serves pages, `/_event` and `/api/*` on one port: `EFOY_PORT` (3000).
"""

import os

import reflex as rx

from efoy_app.settings import get_settings

_settings = get_settings()
_port = int(os.environ.get("EFOY_PORT", "3000"))

config = rx.Config(
    app_name="efoy_app",
    db_url=_settings.db_url,
    redis_url=_settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Only FRONTEND_URL's origin (and EFOY_CORS_ORIGINS) may call /api or open /_event.
    cors_allowed_origins=_settings.cors_origins,
    frontend_port=_port,
    backend_port=_port,
    # A demo (known accounts) listens on loopback only, even when started by hand (EFOY_HOST).
    backend_host=_settings.bind_host,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            # Light only: assets/efoy.css darkens the light scales to WCAG AA contrast.
            theme=rx.theme(
                appearance="light", accent_color="teal", gray_color="slate", radius="large"
            ),
        ),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
