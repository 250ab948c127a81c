"""Documents -> chunks -> vectors -> FAISS index + SQLAlchemy store (see DESIGN.md, "Indexing").

Imports the encoder through its public API only; it is built in its own issue.
"""
