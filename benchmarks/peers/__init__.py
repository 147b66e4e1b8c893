"""Peers: the onboarding of ``dags_examples/hubspot_onboarding.py`` written the two ways a user would write it
without this provider, for ``benchmarks/peers_compare.py`` (``python -m benchmarks --only peers``).

* ``http_operator_onboarding.py``: ``HttpOperator`` tasks (``apache-airflow-providers-http``), a hand-written
  IMS token task whose token the other tasks pull from XCom, bodies as Jinja-templated JSON strings.
* ``aepp_onboarding.py``: ``@task`` functions calling Adobe's ``aepp`` client (FlowService, Schema, Catalog,
  DataPrep modules).

Both build the same resources per table as the example (base connection, explore, field group, schema,
dataset, mapping set, source and target connections, ``once`` dataflow, wait for its run), mapped over the
selected tables, and both are written as a first version usually is: a create is a bare POST (no lookup),
so re-running either makes every resource again. They need the ``bench`` extra (``pip install -e
".[bench]"``); ``onboarding_helpers.py`` is the hand-written XDM part both share.
"""
