"""Reflex state classes: thin, they call domain/ through efoy_app.db.session_scope()."""
