"""Flow Service (``/data/foundation/flowservice``): connections, specs, flows and runs, and the table sources
explore and runs read (:mod:`.sources`)."""
