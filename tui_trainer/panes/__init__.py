"""The four panes of the app, one module each. Panes render domain results and route keys; no domain logic."""
