"""Data Prep (``/data/foundation/conversion``): mapping sets, the mapping engine (:mod:`.mapping`) and the
expression language (:mod:`.expressions`)."""
