import pytest

from airflow_provider_aep.client.config import AEPSettings, is_loopback
from airflow_provider_aep.client.errors import AEPConfigError

ORG = "0123456789ABCDEF01234567@AdobeOrg"


def make(**overrides):
    values = {"client_id": "cid", "client_secret": "secret-value", "org_id": ORG, **overrides}
    return AEPSettings(**values)


def test_defaults_point_at_adobe():
    s = make()
    assert s.flow_service_url == "https://platform.adobe.io/data/foundation/flowservice"
    assert s.token_url == "https://ims-na1.adobelogin.com/ims/token/v3"
    assert s.sandbox_name == "prod"
    assert "read_organizations" in s.scopes


def test_secret_not_in_repr():
    assert "secret-value" not in repr(make())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_secret": " "}, "client_secret"),
        ({"org_id": ""}, "org_id"),
        ({"org_id": "12345"}, "org_id"),
        ({"sandbox_name": "Prod"}, "sandbox_name"),
        ({"sandbox_name": "my sandbox"}, "sandbox_name"),
        ({"platform_url": "http://platform.adobe.io"}, "host"),
        ({"platform_url": "https://evil.example.com"}, "host"),
        ({"platform_url": "https://platform.adobe.io/data"}, "host"),
        ({"ims_url": "https://ims.example.org"}, "ims_url"),
        ({"ims_url": "ftp://ims-na1.adobelogin.com"}, "ims_url"),
        ({"scopes": " , "}, "scopes"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"connect_timeout": "10"}, "connect_timeout"),
    ],
)
def test_bad_settings_name_the_field(overrides, field):
    with pytest.raises(AEPConfigError) as err:
        make(**overrides)
    assert err.value.field == field
    assert str(err.value).startswith(field)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8081", "http://localhost:9", "http://[::1]:80"])
def test_plain_http_only_on_loopback(host):
    s = make(platform_url=host, ims_url=host)
    assert s.platform_url == host
    assert s.token_url == host + "/ims/token/v3"


def test_bare_host_gets_https():
    assert make(platform_url="platform-va7.adobe.io").platform_url == "https://platform-va7.adobe.io"


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.5", True), ("::1", True), ("10.0.0.1", False), ("", False)])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected
