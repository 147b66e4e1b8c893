"""Benchmarks for airflow-provider-aep (issue 7). Run ``make bench`` (``python -m benchmarks``).

Every headline figure is a ratio against a baseline measured in the same run on the same machine:

* ``parse``      (a) DAG parse time vs the same DAG shape built from ``EmptyOperator``; provider import cost.
* ``calls``      (b) HTTP requests per operator vs the API minimum; IMS token requests per process.
* ``triggers``   (c) 1,000 deferred waits (``AEPFlowRunTrigger``) in one event loop vs poke-mode threads.
* ``pagination`` (d) ``FlowServiceClient.iter_resources`` over 10,000 connections vs a bare ``requests`` loop.

Nothing here asserts a wall-clock time; ``tests/benchmarks/test_bench_smoke.py`` runs each one with tiny sizes
and checks only that the results are well formed.
"""
