"""Other GIS (QGIS 3.22 can send only Basic) fetch tiles and exports with the user name and a
personal token as HTTP Basic; unauthenticated they get 401 with WWW-Authenticate, never the
login page (which a GIS would show as a valid, empty layer)."""

from __future__ import annotations

import base64

import pytest
from conftest import PASSWORD

TILE = "/tiles/parcels/13/6610/3403.pbf"
EXPORT = "/exports/parcels.geojson?zone=C"


def basic(name: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{name}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.mark.parametrize("url", [TILE, EXPORT])
def test_basic_with_the_user_name_and_a_token_is_accepted(anonymous, accounts, url):
    viewer = accounts["viewer"]
    resp = anonymous.get(url, headers=basic(viewer["name"], viewer["token"]))
    resp.close()  # an export streams from an open file
    assert resp.status_code == 200


@pytest.mark.parametrize("url", [TILE, EXPORT])
@pytest.mark.parametrize("accept", [None, "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_without_credentials_a_gis_path_is_401_with_a_basic_challenge(anonymous, url, accept):
    resp = anonymous.get(url, headers={"Accept": accept} if accept else {})
    assert resp.status_code == 401 and resp.is_json
    assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert resp.get_json()["code"] == "not_signed_in"


@pytest.mark.parametrize(
    "who",
    ["password", "other_name", "bad_token"],
)
def test_basic_never_takes_the_account_password_or_a_token_of_another_user(
    anonymous, accounts, who
):
    viewer, admin = accounts["viewer"], accounts["admin"]
    name, secret = {
        "password": (viewer["name"], PASSWORD),
        "other_name": (admin["name"], viewer["token"]),
        "bad_token": (viewer["name"], "lm_not-a-token"),
    }[who]
    resp = anonymous.get(TILE, headers=basic(name, secret))
    assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers


def test_basic_is_only_for_what_gis_fetch(anonymous, accounts):
    viewer = accounts["viewer"]
    resp = anonymous.get("/api/zones", headers=basic(viewer["name"], viewer["token"]))
    assert resp.status_code == 401 and "WWW-Authenticate" not in resp.headers
