"""The emulator CLI with ``N`` extra HubSpot tables, for the onboarding-scale benchmark only.

``python -m benchmarks._scale_emulator N [cli arguments]`` adds ``Hubspot.Bench_Table_0001`` ...
``Hubspot.Bench_Table_<N>`` (the columns of ``Contacts``) to the emulated HubSpot source, then runs
``aep_emulator.cli``. Nothing outside this process sees the extra tables.
"""

from __future__ import annotations

import sys


def table_names(count: int) -> list[str]:
    return [f"Bench_Table_{i:04d}" for i in range(1, count + 1)]


def main(argv: list[str]) -> None:
    count, rest = int(argv[0]), argv[1:]
    from aep_emulator import cli
    from aep_emulator.flow_service import sources
    from aep_emulator.flow_service.sources import hubspot

    for name in table_names(count):
        hubspot.TABLES[name] = list(hubspot.TABLES["Contacts"])
        sources.HUBSPOT.tables[name] = hubspot.columns(name)
    sys.exit(cli.main(rest))


if __name__ == "__main__":
    main(sys.argv[1:])
