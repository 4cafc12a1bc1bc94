"""The FastAPI app behind /api/v1: routers, JSON errors, OpenAPI at /api/v1/openapi.json.

Reflex mounts its own backend under this app (`rx.App(api_transformer=api)`), so anything not
matched here goes to Reflex — except paths under /api/v1, which answer a JSON 404 (or 405).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.routing import Match

from efoy_app.api import (
    admin,
    admin_cancellations,
    admin_doctors,
    admin_monitor,
    admin_outbox,
    auth,
    bookings,
    doctor_photos,
    doctors,
    monitoring,
    payments,
    receipts,
)
from efoy_app.api.errors import error_response, install_error_handlers
from efoy_app.api.limits import BodyLimitMiddleware
from efoy_app.routes import API as API_PREFIX

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_api() -> FastAPI:
    """A fresh app; settings and the engine are read per request, so tests can build several."""
    app = FastAPI(
        title="Efoy API",
        version="1.0.0",
        description=(
            "Hospital appointments: doctors, free slots, bookings and payments. Send "
            "`Authorization: Bearer <accessToken>` (from POST /api/v1/auth/token) except on "
            "public routes: register, token, doctors, slots, and the Stripe webhook."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.include_router(auth.router)
    app.include_router(doctors.router)
    app.include_router(doctor_photos.router)
    app.include_router(bookings.router)
    app.include_router(payments.router)
    app.include_router(receipts.router)
    app.include_router(admin.router)
    app.include_router(admin_cancellations.router)
    app.include_router(admin_doctors.router)
    app.add_exception_handler(admin_doctors.StrandedBookings, admin_doctors.answer_stranded)
    app.include_router(admin_monitor.router)
    app.include_router(admin_outbox.router)
    app.include_router(monitoring.router)

    known = list(app.routes)

    @app.api_route(f"{API_PREFIX}/{{path:path}}", methods=ALL_METHODS, include_in_schema=False)
    def unknown_route(request: Request, path: str) -> object:
        scope = {**request.scope, "path_params": {}}
        allowed = [
            method
            for method in ALL_METHODS
            if any(r.matches({**scope, "method": method})[0] == Match.FULL for r in known)
        ]
        if allowed:  # RFC 9110: a 405 lists what the resource does accept
            headers = {"Allow": ", ".join(allowed)}
            return error_response(405, "method_not_allowed", "Method not allowed.", headers)
        return error_response(404, "not_found", f"No API route {request.url.path}.")

    return app
