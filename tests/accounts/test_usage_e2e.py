"""A running server polls idle OAuth accounts' usage by itself: windows known before any request."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from access import credentials as access_services
from accounts.models import Account
from tests import servers
from tests.conftest import FakeUpstream, header, proxy_env, wait_for
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def polling_server(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> Iterator[str]:
    """A daphne of its own that polls every account's usage every second."""
    fake_upstream.reset()
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "USAGE_POLL_SECONDS": "1"}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        yield f"http://127.0.0.1:{port}"
        servers.stop(process)


def listed(server: str, token: str) -> dict[str, dict]:
    reply = httpx.get(f"{server}/api/accounts", headers={"Authorization": f"Bearer {token}"})
    return {account["name"]: account for account in reply.json()}


def test_idle_oauth_account_shows_its_windows_without_any_request(
    polling_server: str, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.configure(
        usage_shape="limits", usage_percent={"five_hour": 42, "seven_day": 17, "Opus": 91}
    )
    make_oauth_account(name="idle")
    make_account(name="key")
    token = access_services.create_api_token(name="usage-e2e")[1]

    idle = wait_for(lambda: listed(polling_server, token)["idle"]["usageCheckedAt"], timeout=10)

    assert idle
    accounts = listed(polling_server, token)
    shown = accounts["idle"]
    assert shown["fiveHourUtilization"] == pytest.approx(0.42)
    assert shown["sevenDayUtilization"] == pytest.approx(0.17)
    assert shown["fiveHourReset"] is not None
    assert shown["sevenDayReset"] is not None
    assert [(w["family"], w["utilization"]) for w in shown["modelWindows"]] == [("opus", 0.91)]
    assert shown["modelWindows"][0]["resetsAt"] is not None
    assert accounts["key"]["fiveHourUtilization"] is None
    calls = fake_upstream.log()
    assert not [c for c in calls if c["path"].startswith("/v1/")]
    usage = [c for c in calls if c["path"] == "/api/oauth/usage"]
    assert {header(c, "authorization") for c in usage} == {"Bearer sk-ant-oat01-idle-access-secret"}


def test_polls_keep_readings_for_the_forecast_and_follow_the_flat_shape(
    polling_server: str, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.configure(usage_shape="flat", usage_percent={"five_hour": 10})
    account = make_oauth_account(name="busy")
    assert wait_for(lambda: len(Account.objects.get(pk=account.pk).five_hour_samples) >= 1)

    fake_upstream.configure(usage_shape="flat", usage_percent={"five_hour": 25})

    assert wait_for(
        lambda: Account.objects.get(pk=account.pk).five_hour_utilization == 0.25, timeout=10
    )
    readings = [value for _, value in Account.objects.get(pk=account.pk).five_hour_samples]
    assert readings[0] == 0.10
    assert readings[-1] == 0.25
