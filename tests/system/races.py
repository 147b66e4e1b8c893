"""Races between DAG runs whose overlap and winner the AEP emulator decides, not timing (see test_concurrent_runs).

A :class:`Race` puts two ``hold`` faults on the POST of each collection in its plan: the first catches the group
of DAG runs that reaches the create first, the second the others. Every POST then waits until every run is in
the create (so all of them looked the key up before anyone committed it), and the test lets the chosen
winner's group go first; its create commits first, so it is the oldest, which convergence makes every run
agree on. Before letting the losers go, the test waits until the winner's group waits in the next creates,
so it reaches them first: that is what makes the next step's first group known in advance.

:class:`Snapshot` reads the emulator's resources with their natural keys, owners and references.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_aep.ownership import owner_of

TEARDOWN = "teardown"
KEEP = "keep"
FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry/tenant"
CREATE_PATHS = {
    "connections": FS + "/connections",
    "sourceConnections": FS + "/sourceConnections",
    "fieldgroups": SR + "/fieldgroups",
    "schemas": SR + "/schemas",
    "mappingSets": "/data/foundation/conversion/mappingSets",
    "dataSets": "/data/foundation/catalog/dataSets",
    "targetConnections": FS + "/targetConnections",
    "flows": FS + "/flows",
}
POLL = 0.1  # seconds between two looks at the emulator's counters; no decision depends on it
LOOK_AROUND = 5.0  # seconds between two calls of a wait's ``also`` check (e.g. "no DAG run failed")

Node = tuple[str, str]  # (collection, id)


def wait_until(check: Callable[[], bool], what: str, *, also: Callable[[], None] | None = None, timeout=600.0) -> None:
    """Poll ``check`` until it is true. ``also`` (which raises to give up, e.g. when a DAG run failed and will
    never get there) runs every few seconds; ``timeout`` only bounds a stuck test."""
    deadline = time.monotonic() + timeout
    next_look = 0.0
    while not check():
        now = time.monotonic()
        if also is not None and now >= next_look:
            also()
            next_look = now + LOOK_AROUND
        assert now < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(POLL)


@dataclass(frozen=True)
class RaceStep:
    """One raced create: ``first`` is the group that reaches it first, ``winner`` the group whose create the
    test lets commit first, ``then`` the held creates the winner must be waiting in before the losers go."""

    collection: str
    first: str
    winner: str
    then: tuple[str, ...] = ()


class Race:
    """The holds of a plan of :class:`RaceStep` on one emulator, and the journal figures of the races."""

    def __init__(self, control: Any, plan: Iterable[RaceStep], *, sizes: Mapping[str, int]) -> None:
        self.control = control
        self.plan = list(plan)
        self.sizes = dict(sizes)
        steps = {step.collection: step for step in self.plan}
        for step in self.plan:
            for after in step.then:
                # the winner is let go first and waited for in the next create, so it is that create's first group
                assert steps[after].first == step.winner, f"{after} is reached first by {step.winner}"
        self.rules: dict[str, dict[str, str]] = {}
        self.released: dict[str, float] = {}  # fault id -> wall time of its release
        for step in self.plan:
            second = next(group for group in self.sizes if group != step.first)
            path = CREATE_PATHS[step.collection]
            # Rules are tried in the order they were added: the first catches the group that arrives first.
            self.rules[step.collection] = {
                group: control.add_fault("POST", path, action="hold", count=self.sizes[group])
                for group in (step.first, second)
            }

    def _held(self, collection: str, group: str) -> int:
        return int(self.control.held(self.rules[collection][group])["held"])

    def wait_arrived(self, collection: str, group: str, *, also: Callable[[], None] | None = None) -> None:
        """Until every run of ``group`` waits in its hold on ``collection``."""
        size = self.sizes[group]
        wait_until(lambda: self._held(collection, group) >= size, f"{size} {group} run(s) in {collection}", also=also)

    def _answered(self, collection: str, group: str) -> int:
        fault = self.rules[collection][group]
        return sum(e["fault"] == fault for e in self.control.journal(method="POST", path=CREATE_PATHS[collection]))

    def release(self, collection: str, group: str, *, also: Callable[[], None] | None = None) -> None:
        """Let ``group``'s creates of ``collection`` go and wait until the emulator has handled all of them."""
        fault = self.rules[collection][group]
        self.released[fault] = time.time()
        self.control.release(fault)
        size = self.sizes[group]
        wait_until(
            lambda: self._answered(collection, group) >= size, f"{group}'s {collection} creates handled", also=also
        )

    def run(self, *, also: Callable[[], None] | None = None) -> None:
        """Resolve every step of the plan in order (all runs must have been started)."""
        for step in self.plan:
            loser = next(group for group in self.sizes if group != step.winner)
            for group in self.sizes:  # every run's POST is in flight before any of them commits
                self.wait_arrived(step.collection, group, also=also)
            self.release(step.collection, step.winner, also=also)
            for after in step.then:
                self.wait_arrived(after, step.winner, also=also)
            self.release(step.collection, loser, also=also)

    # -- figures from the journal ----------------------------------------------------------------------------
    def posts(self, journal: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {
            c: [e for e in journal if e["method"] == "POST" and e["path"] == path] for c, path in CREATE_PATHS.items()
        }

    def deletes(self, journal: list[dict[str, Any]]) -> dict[str, int]:
        """Successful DELETEs per collection (before the teardown: the losers convergence deleted)."""
        return {
            c: sum(
                e["method"] == "DELETE" and e["path"].startswith(path + "/") and 200 <= e["status"] < 300
                for e in journal
            )
            for c, path in CREATE_PATHS.items()
        }

    def figures(self, journal: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per natural key (one table: one key per collection): creates POSTed, committed, refused as a title
        clash, losers deleted by convergence, and the group that won."""
        deletes = self.deletes(journal)
        out = {}
        for step in self.plan:
            posts = self.posts(journal)[step.collection]
            out[step.collection] = {
                "posted": len(posts),
                "committed": sum(200 <= e["status"] < 300 for e in posts),
                "title_clashes": sum(e["status"] == 400 for e in posts),
                "deleted_by_convergence": deletes[step.collection],
                "won_by": step.winner,
            }
        return out

    def longest_hold(self, journal: list[dict[str, Any]]) -> float:
        """The longest a held create waited (its arrival, journaled as ``time``, to its rule's release)."""
        waits = [self.released[e["fault"]] - e["time"] for e in journal if e.get("fault") in self.released]
        return max(waits, default=0.0)


# --------------------------------------------------------------------------- resources, keys and references
def resource_id(collection: str, resource: Mapping[str, Any]) -> str:
    return str(resource["$id"] if collection in ("schemas", "fieldgroups") else resource["id"])


def natural_key(collection: str, resource: Mapping[str, Any]) -> str:
    """What the provider looks a resource up by: its name (the Schema Registry: its title; a source connection's
    name is only unique under its base connection)."""
    if collection in ("schemas", "fieldgroups"):
        return str(resource["title"])
    if collection == "sourceConnections":
        return f"{resource['name']} @ {resource['baseConnectionId']}"
    return str(resource["name"])


def uses(collection: str, resource: Mapping[str, Any]) -> set[Node]:
    """What a resource uses, as far as a teardown must respect it: a dataflow its source and target connections
    and mapping set, a source connection its base connection, a target connection the dataset it writes to, a
    dataset its schema, a schema its field groups."""
    if collection == "flows":
        found = {("sourceConnections", i) for i in resource["sourceConnectionIds"]}
        found |= {("targetConnections", i) for i in resource["targetConnectionIds"]}
        found |= {
            ("mappingSets", step["params"]["mappingId"])
            for step in resource.get("transformations", [])
            if (step.get("params") or {}).get("mappingId")
        }
        return found
    if collection == "sourceConnections":
        return {("connections", resource["baseConnectionId"])}
    if collection == "targetConnections":
        return {("dataSets", resource["params"]["dataSetId"])}
    if collection == "dataSets":
        return {("schemas", resource["schemaRef"]["id"])}
    if collection == "schemas":
        return {("fieldgroups", part["$ref"]) for part in resource.get("allOf", []) if "/mixins/" in part["$ref"]}
    return set()


class Snapshot:
    """The emulator's resources of the raced collections, by ``(collection, id)``."""

    def __init__(self, state: Mapping[str, list[dict[str, Any]]]) -> None:
        self.resources: dict[Node, dict[str, Any]] = {(c, resource_id(c, r)): r for c in CREATE_PATHS for r in state[c]}

    def ids(self, collection: str) -> set[str]:
        return {i for c, i in self.resources if c == collection}

    def per_key(self, collection: str) -> Counter[str]:
        return Counter(natural_key(c, r) for (c, _), r in self.resources.items() if c == collection)

    def owner_run(self, node: Node) -> str | None:
        owner = owner_of(self.resources[node])
        return owner.run_id if owner else None

    def uses(self, node: Node) -> set[Node]:
        return uses(node[0], self.resources[node])

    def closure(self, roots: Iterable[Node]) -> dict[Node, Node]:
        """Everything ``roots`` use, directly or through each other: ``{used: the resource that uses it}``."""
        reached: dict[Node, Node] = {}
        todo = [root for root in roots if root in self.resources]
        while todo:
            node = todo.pop()
            for used in self.uses(node):
                if used not in reached and used in self.resources:
                    reached[used] = node
                    todo.append(used)
        return reached

    def describe(self, node: Node, groups: Mapping[str, str]) -> str:
        """``dataSets 'HubSpot …: Hubspot.Contacts' (keep run concurrent_keep1_…)``."""
        run = self.owner_run(node)
        owner = f"{groups.get(run, 'other')} run {run}" if run else "no owner line"
        return f"{node[0]} {natural_key(node[0], self.resources[node])!r} ({owner})"

    def why_used(self, node: Node, used_by: Mapping[Node, Node], groups: Mapping[str, str]) -> str:
        """``"used by schemas 'x' (teardown run …), used by dataSets 'y' (keep run …)"``."""
        chain = []
        while node in used_by:
            node = used_by[node]
            chain.append(self.describe(node, groups))
        return "used by " + ", used by ".join(chain) if chain else "used by nothing kept"


__all__ = [
    "CREATE_PATHS",
    "KEEP",
    "TEARDOWN",
    "Race",
    "RaceStep",
    "Snapshot",
    "natural_key",
    "uses",
    "wait_until",
]
