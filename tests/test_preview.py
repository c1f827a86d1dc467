"""A private preview for the people who own it: a signed-in member of the account opens a
private project's URL through a short-lived, single-project grant; everyone else still gets
the bytes of a name nobody took, and the app never sees the grant. Over raw HTTPS (exact
bytes) and in headless Chromium (what a person does)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests
from selenium.webdriver.common.by import By

from conftest import PASSWORD, signup_and_login, wait_until
from test_dashboard import browser, fill, submit  # noqa: F401 (browser is a fixture)
from test_ingress import AppClient, comparable, deployed_app

COOKIE = "__Host-s4a_preview"


def dashboard_get(srv, path, session=None):
    """A browser's GET on the API host (not followed), with the session cookie if any."""
    cookies = {"__Host-s4a_session": session} if session else {}
    return requests.get(srv.url(path), cookies=cookies, headers={"accept": "text/html"}, verify=str(srv.ca),
                        allow_redirects=False, timeout=30)


def ask(srv, slug, target="/", headers=None):
    client = AppClient(srv, f"{slug}.{srv.apps_domain}")
    try:
        return client.request("GET", target, f"{slug}.{srv.apps_domain}:{srv.port}", headers=headers)
    finally:
        client.close()


def grant_for(srv, session, slug):
    """The grant the API host mints for `slug` (it redirects to the project's host with it)."""
    minted = dashboard_get(srv, f"/preview/{slug}", session)
    assert minted.status_code in (302, 303), (minted.status_code, minted.text[:300])
    location = urlsplit(minted.headers["location"])
    assert location.netloc == f"{slug}.{srv.apps_domain}:{srv.port}" and location.path == "/.s4a/preview", location
    return location.path + "?" + location.query, location.query.split("grant=", 1)[1]


def test_the_owner_previews_a_private_project_and_nobody_else_can(make_server):
    srv = make_server()
    owner = signup_and_login(srv)
    project, sid = deployed_app(srv, owner.token, "shop", "tok-9")
    deployed_app(srv, owner.token, "other", "tok-other")
    wait_until(lambda: srv.request("GET", f"/v1/servers/{sid}", owner.token).json()["deployment"]["state"] == "healthy")
    unknown = comparable(ask(srv, "nosuch"))
    assert unknown[0] == 404 and comparable(ask(srv, "shop")) == unknown

    # The owner: the API host mints a grant, the project's host takes it into a host-only cookie.
    accept, token = grant_for(srv, owner.token, "shop")
    status, headers, _ = ask(srv, "shop", accept)
    assert status == 303 and headers["location"] == "/", (status, headers)
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token};") and "Domain" not in cookie, cookie
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie, cookie
    status, _, body = ask(srv, "shop", headers={"Cookie": f"theme=dark; {COOKIE}={token}"})
    assert (status, body) == (200, b"hello tok-9"), (status, body)
    # The app never receives the grant, only its own cookies.
    seen = json.loads(ask(srv, "shop", "/headers", headers={"Cookie": f"theme=dark; {COOKIE}={token}; lang=en"})[2])
    assert seen["cookie"] == "theme=dark; lang=en" and "s4a_preview" not in json.dumps(seen), seen
    only = json.loads(ask(srv, "shop", "/headers", headers={"Cookie": f"{COOKIE}={token}"})[2])
    assert "cookie" not in only, only

    # One project's grant opens no other, through the cookie or the accepting path.
    assert comparable(ask(srv, "other", headers={"Cookie": f"{COOKIE}={token}"})) == unknown
    assert comparable(ask(srv, "other", "/.s4a/preview?grant=" + token)) == unknown
    # A forged or altered grant, or none: the unknown bytes.
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert comparable(ask(srv, "shop", headers={"Cookie": f"{COOKIE}={forged}"})) == unknown
    assert comparable(ask(srv, "shop", "/.s4a/preview?grant=" + forged)) == unknown
    assert comparable(ask(srv, "shop", "/.s4a/preview")) == unknown
    # The way in starts the same for every name, taken or not.
    start = ask(srv, "shop", "/.s4a/open")
    assert start[0] == 303 and start[1]["location"] == srv.url("/preview/shop"), start
    nosuch = ask(srv, "nosuch", "/.s4a/open")
    assert nosuch[0] == 303 and nosuch[1]["location"] == srv.url("/preview/nosuch"), nosuch

    # Another account and an anonymous visitor get no grant, and the URL stays the 404.
    stranger = signup_and_login(srv)
    refused = dashboard_get(srv, "/preview/shop", stranger.token)
    assert refused.status_code == 404 and "shop.apps" not in refused.headers.get("location", ""), refused.headers
    anonymous = dashboard_get(srv, "/preview/shop")
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].endswith("/signin"), anonymous.headers
    # An agent's key is not a person: no grant.
    key = srv.request("POST", "/v1/api-keys", owner.token, json={"name": "k", "scopes": ["projects:read"]}).json()["token"]
    assert dashboard_get(srv, "/preview/shop", key).status_code in (302, 303, 404)
    assert "shop.apps" not in dashboard_get(srv, "/preview/shop", key).headers.get("location", "")

    # The grant is the project's, while it is the account's: deleting the project closes it.
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=100", owner.token).json()["items"]]
    assert "project.preview_granted" in actions, actions
    assert srv.request("DELETE", f"/v1/projects/{project}", owner.token).status_code in (202, 204)
    assert comparable(ask(srv, "shop", headers={"Cookie": f"{COOKIE}={token}"})) == unknown


def test_a_person_opens_the_private_preview_in_a_browser(make_server, browser):
    srv = make_server()
    owner = signup_and_login(srv)
    _, sid = deployed_app(srv, owner.token, "look", "tok-look")
    wait_until(lambda: srv.request("GET", f"/v1/servers/{sid}", owner.token).json()["deployment"]["state"] == "healthy")
    b = browser
    b.get(srv.url("/signin"))
    fill(b, "email", owner.email)
    fill(b, "password", PASSWORD)
    submit(b, By.ID, "signin")
    # From the project's own URL: the way in goes through the API host and back.
    b.get(f"https://look.{srv.apps_domain}:{srv.port}/.s4a/open")
    wait_until(lambda: "hello tok-look" in b.page_source, timeout=20, what="the app's page")
    assert urlsplit(b.current_url).netloc == f"look.{srv.apps_domain}:{srv.port}", b.current_url
    cookie = b.get_cookie(COOKIE)
    assert cookie and cookie["httpOnly"] and cookie["secure"], cookie
    assert cookie["domain"] == f"look.{srv.apps_domain}", cookie  # host-only: no leading dot
    assert COOKIE not in b.execute_script("return document.cookie")
