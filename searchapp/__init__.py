"""The Flask application: web UI and JSON API over an index (see DESIGN.md, "Query").

Imports the indexer and the encoder's public API; it is built in its own issue.
"""
