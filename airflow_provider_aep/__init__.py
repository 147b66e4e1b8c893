"""Apache Airflow provider for the Adobe Experience Platform Flow Service.

Importing this package is deliberately cheap (DAG files are parsed every few seconds): it pulls in no HTTP
library and no Airflow module. Import hooks, operators and sensors from their own modules.
"""

from airflow_provider_aep.version import __version__

__all__ = ["__version__"]
