"""Fail unless this venv runs exactly the Airflow the provider declares as its floor (``make test-lowest``).

Usage: ``python scripts/check_airflow_floor.py 3.1.8``. Checks that apache-airflow and apache-airflow-core are
installed at that version (pip did not upgrade them) and that the installed provider's ``apache-airflow``
requirement starts there (pyproject.toml and the Makefile's LOWEST_AIRFLOW agree).
"""

from __future__ import annotations

import sys
from importlib.metadata import requires, version

from packaging.requirements import Requirement


def main(floor: str) -> int:
    problems = [
        f"{dist} is {version(dist)}, not {floor}"
        for dist in ("apache-airflow", "apache-airflow-core")
        if version(dist) != floor
    ]
    declared = [
        Requirement(r) for r in requires("airflow-provider-aep") or [] if Requirement(r).name == "apache-airflow"
    ]
    lower = {spec.version for req in declared for spec in req.specifier if spec.operator == ">="}
    if lower != {floor}:
        problems.append(f"airflow-provider-aep requires {[str(r) for r in declared]}, whose floor is not {floor}")
    for problem in problems:
        print(f"check_airflow_floor: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_airflow_floor: Airflow {floor}, the declared floor")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
