"""The Batch Ingestion API (``/data/foundation/import``): batches, file uploads and their processing."""
