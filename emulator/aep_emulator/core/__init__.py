"""What every emulated service shares: the request lifecycle (:mod:`.exchange`) and URL tables (:mod:`.routing`),
the gateway and the IMS tokens it checks (:mod:`.tokens`), error envelopes, request/response values, list queries
and pagination, JSON Patch and Accept parsing, the control plane, faults, the clock, the journal, redaction, page
rendering, the state container and the configuration. Nothing here imports a service."""
