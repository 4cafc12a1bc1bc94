"""One module per page; each registers itself with `@rx.page` when imported by efoy_app.py."""
