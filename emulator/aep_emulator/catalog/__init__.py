"""Catalog Service (``/data/foundation/catalog``): datasets and the batches emulated runs write.

Catalog answers objects keyed by id (``{"<id>": {...}}``) for single reads and lists alike; :mod:`.models` holds
its state and what other services use (:func:`~.models.find_dataset`, :func:`~.models.add_batch`).
"""
