"""Adobe's own Python client, aepp, against a running emulator, with aepp's defaults (run inside a venv that has
aep-emulator and aepp but no Airflow). Prints one JSON object: what each call gave back.

Usage: python aepp_calls.py EMULATOR_URL
"""

from __future__ import annotations

import json
import sys
import uuid

import aepp
from aepp import catalog, dataprep, schema

ORG = "0123456789ABCDEF01234567@AdobeOrg"
PROFILE = "https://ns.adobe.com/xdm/context/profile"


def main(url: str) -> None:
    # environment="support" with `endpoint` is aepp's way to aim every module at another Platform host; the IMS
    # endpoint is the one config entry aepp does not derive from it.
    aepp.configure(
        org_id=ORG,
        client_id="aepp-client",
        secret="aepp-secret",
        scopes="openid,AdobeID,read_organizations",
        sandbox="prod",
        environment="support",
        endpoint=url,
    )
    config = dict(aepp.config.config_object, oauthTokenEndpointV2=url + "/ims/token/v3")
    registry = schema.Schema(config=config, header=aepp.config.header)
    cat = catalog.Catalog(config=config, header=aepp.config.header)
    prep = dataprep.DataPrep(config=config, header=aepp.config.header)
    suffix = uuid.uuid4().hex[:8]
    tenant = registry.getTenantId()

    group = registry.createFieldGroup(
        {
            "title": f"aepp group {suffix}",
            "description": "Contact fields",
            "type": "object",
            "meta:intendedToExtend": [PROFILE],
            "definitions": {
                "contact": {
                    "properties": {
                        f"_{tenant}": {
                            "type": "object",
                            "properties": {"email": {"type": "string", "title": "Email"}},
                        }
                    }
                }
            },
            "allOf": [{"$ref": "#/definitions/contact"}],
        }
    )
    created_schema = registry.createSchema(
        {
            "title": f"aepp schema {suffix}",
            "description": "Contacts",
            "type": "object",
            "allOf": [{"$ref": PROFILE}, {"$ref": group["$id"]}],
        }
    )
    fetched = registry.getSchema(created_schema["$id"])  # Accept: application/vnd.adobe.xdm-full+json; version=1
    dataset = cat.createDataSet(name=f"aepp dataset {suffix}", schemaId=created_schema["$id"])
    dataset_id = dataset[0].split("/")[-1] if isinstance(dataset, list) else dataset
    datasets = cat.getDataSets()  # reads every dataset's `classification`
    mapping = prep.createMappingSet(
        schemaId=created_schema["$id"],
        mappingList=[{"sourceType": "ATTRIBUTE", "source": "email", "destination": f"_{tenant}.email"}],
    )
    print(
        json.dumps(
            {
                "tenant": tenant,
                "schemas": [s.get("$id") for s in registry.getSchemas()],
                "field_groups": [g.get("$id") for g in registry.getFieldGroups()],
                "group_id": group.get("$id"),
                "schema_id": created_schema.get("$id"),
                "fetched_title": fetched.get("title"),
                "fetched_properties": sorted(fetched.get("properties", {})),
                "dataset_id": dataset_id,
                "dataset_names": sorted(d["name"] for d in datasets.values()),
                "behaviours": sorted({d["classification"]["dataBehavior"] for d in datasets.values()}),
                "infos_rows": len(cat.data.infos),
                "mapping_set_id": mapping.get("id"),
                "mapping_sets": [m.get("id") for m in prep.getMappingSets()],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
