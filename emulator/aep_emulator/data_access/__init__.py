"""The Data Access API (``/data/foundation/export``): a batch's files, failed records and diagnostics."""
