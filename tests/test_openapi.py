"""The OpenAPI 3.1 document is the contract: it is valid, it is what the repository holds,
every operation declares its scope, every documented route exists on the server, the
server enforces the declared scopes, and nothing undocumented answers."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from conftest import PASSWORD, REPO_ROOT, Server, signup_and_login

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
KEY_SCOPES = ["projects:read", "projects:write", "projects:publish", "servers:read", "servers:write",
              "servers:exec", "secrets:write", "budget:write", "activity:read", "keys:write"]
# Non-key scopes: public (no credentials), any (any valid credential), session (a signed-in
# person, not an API key), operator (/metrics: loopback or the operator token).
SPECIAL_SCOPES = {"public", "any", "session", "operator", "link"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def doc(server) -> dict:
    r = server.request("GET", "/v1/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_served_document_is_the_repository_contract(doc):
    source = REPO_ROOT / "Sources" / "S4AContract" / "openapi.yaml"
    assert yaml.safe_load(source.read_text()) == doc


def test_every_operation_declares_a_known_scope_and_matching_security(doc):
    ops = list(operations(doc))
    assert len(ops) >= 15, "the document lost its operations"
    ids = [op.get("operationId") for _, _, op in ops]
    assert all(ids) and len(set(ids)) == len(ids), ids
    for path, method, op in ops:
        where = f"{method.upper()} {path}"
        scope = op.get("x-s4a-scope")
        assert scope, f"{where} has no x-s4a-scope"
        assert scope in SPECIAL_SCOPES or scope in KEY_SCOPES, f"{where}: unknown scope {scope!r}"
        unauthenticated = op.get("security", doc.get("security")) == []
        assert unauthenticated == (scope in ("public", "operator", "link")), \
            f"{where}: x-s4a-scope {scope} but security {op.get('security', doc.get('security'))}"


def test_every_error_answer_is_documented_as_problem_json(doc):
    for path, method, op in operations(doc):
        for status, resp in op["responses"].items():
            if status == "default" or status.startswith(("4", "5")):
                if "$ref" in resp:
                    name = resp["$ref"].rsplit("/", 1)[-1]
                    resp = doc["components"]["responses"][name]
                assert list(resp.get("content", {})) == [PROBLEM], f"{method.upper()} {path} {status}"


# ------------------------------------------------------------------ the server side

def _is_routed_answer(r) -> bool:
    """The router's own answer to an unknown route is 404/405 problem+json."""
    return r.status_code not in (404, 405)


class Fixtures:
    """Real ids for path parameters: each call makes fresh resources, so that deleting
    probes do not disturb each other."""

    def __init__(self, server: Server, token: str):
        self.server, self.token = server, token

    def value(self, param: str, caller_key_id: str | None = None) -> str:
        if param == "key_id" and caller_key_id:
            return caller_key_id  # a key may revoke only itself and the keys it created
        if param == "project_id":
            r = self.server.request("POST", "/v1/projects", self.token, json={"name": "probe"})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if param == "key_id":
            r = self.server.request("POST", "/v1/api-keys", self.token,
                                    json={"name": "probe", "scopes": ["projects:read"]})
            assert r.status_code == 201, r.text
            return r.json()["key"]["id"]
        if param == "server_id":
            return self.server_id()
        if param == "token":  # a real one-time export link (accounts here use the default password)
            r = self.server.request("POST", "/v1/account/export", self.token, json={"password": PASSWORD})
            assert r.status_code == 201, r.text
            return r.json()["download_url"].rsplit("/", 1)[-1]
        pytest.fail(f"no sample value for path parameter {{{param}}}: teach tests/test_openapi.py")

    def server_id(self) -> str:
        """A fresh real server (a runc container) per probe, since probes stop and delete."""
        project = self.value("project_id")
        r = self.server.request("POST", "/v1/servers", self.token,
                                json={"project_id": project, "name": "probe", "budget_usd": "1",
                                      "memory_mb": 64, "disk_mb": 64})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def fill(self, path: str, caller_key_id: str | None = None) -> str:
        if "{path}" in path:  # a file that exists on that very server
            server = self.server_id()
            r = self.server.request("PUT", f"/v1/servers/{server}/files/root%2Fprobe.txt", self.token, data=b"probe",
                                    headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 204, r.text
            return path.replace("{server_id}", server).replace("{path}", "root%2Fprobe.txt")
        if "{run_id}" in path:  # a run of that very server
            server = self.server_id()
            r = self.server.request("POST", f"/v1/servers/{server}/exec", self.token, json={"command": "true"})
            assert r.status_code == 200, r.text
            return path.replace("{server_id}", server).replace("{run_id}", r.json()["run_id"])
        if "{drain_id}" in path:  # a log drain of that very project (its endpoint is never reached here)
            project = self.value("project_id")
            r = self.server.request("POST", f"/v1/projects/{project}/log-drains", self.token,
                                    json={"url": "https://drain.invalid/probe"})
            assert r.status_code == 201, r.text
            return path.replace("{project_id}", project).replace("{drain_id}", r.json()["drain"]["id"])
        if "{name}" in path:  # a secret that exists in that very project or server
            owner = re.sub(r"\{(\w+_id)\}", lambda m: self.value(m.group(1), caller_key_id), path.split("/secrets/")[0])
            r = self.server.request("PUT", f"{owner}/secrets/PROBE", self.token, json={"value": "probe-value"})
            assert r.status_code == 200, r.text
            return f"{owner}/secrets/PROBE"
        return re.sub(r"\{(\w+)\}", lambda m: self.value(m.group(1), caller_key_id), path)


def _body(method: str):
    return {} if method in ("post", "put", "patch") else None


def test_every_documented_route_exists_without_credentials(server, doc):
    """Unauthenticated: protected routes answer 401 (auth runs after routing, so a 401
    proves the route exists), public ones answer anything but the router's 404/405."""
    for path, method, op in operations(doc):
        concrete = re.sub(r"\{(\w+)\}", lambda m: f"{m.group(1)[:3]}_doesnotexist", path)
        r = server.request(method.upper(), concrete, json=_body(method))
        where = f"{method.upper()} {path} → {r.status_code} {r.text[:200]}"
        assert r.status_code < 500, where
        if op["x-s4a-scope"] in ("public", "operator", "link"):
            assert _is_routed_answer(r), where
        else:
            assert r.status_code == 401, where
            assert r.headers["Content-Type"].startswith(PROBLEM), where
            assert "Bearer" in r.headers.get("WWW-Authenticate", ""), where


def test_every_documented_route_exists_with_real_ids(server, doc):
    acct = signup_and_login(server)
    fx = Fixtures(server, acct.token)
    for path, method, op in operations(doc):
        # A session of its own: DELETE /v1/sessions/current ends the one it uses.
        token = _session(server, acct)
        r = server.request(method.upper(), fx.fill(path), token, json=_body(method))
        where = f"{method.upper()} {path} → {r.status_code} {r.text[:200]}"
        assert r.status_code < 500, where
        assert _is_routed_answer(r), where
        if r.status_code >= 400:
            assert r.headers["Content-Type"].startswith(PROBLEM), where


def _session(server: Server, acct) -> str:
    r = server.request("POST", "/v1/sessions", json={"email": acct.email, "password": acct.password})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def _key(server: Server, token: str, scopes: list[str]) -> tuple[str, str]:
    """(id, token) of a new key."""
    r = server.request("POST", "/v1/api-keys", token, json={"name": "scope-probe", "scopes": scopes})
    assert r.status_code == 201, r.text
    return r.json()["key"]["id"], r.json()["token"]


def test_server_enforces_each_declared_scope(server, doc):
    """For every operation that declares a key scope, a key holding every other scope gets
    403, and a key holding just that scope gets past authorization."""
    acct = signup_and_login(server)
    fx = Fixtures(server, acct.token)
    checked = 0
    for path, method, op in operations(doc):
        scope = op["x-s4a-scope"]
        where = f"{method.upper()} {path} ({scope})"
        if scope in KEY_SCOPES:
            without_id, without = _key(server, acct.token, [s for s in KEY_SCOPES if s != scope])
            r = server.request(method.upper(), fx.fill(path, without_id), without, json=_body(method))
            assert r.status_code == 403, f"{where} without its scope → {r.status_code} {r.text[:200]}"
            assert r.headers["Content-Type"].startswith(PROBLEM)
            only_id, only = _key(server, acct.token, [scope])
            r = server.request(method.upper(), fx.fill(path, only_id), only, json=_body(method))
            assert r.status_code not in (401, 403, 404, 405) and r.status_code < 500, \
                f"{where} with just its scope → {r.status_code} {r.text[:200]}"
            checked += 1
        elif scope == "session":
            key_id, key = _key(server, acct.token, KEY_SCOPES)
            r = server.request(method.upper(), fx.fill(path, key_id), key, json=_body(method))
            assert r.status_code == 403, f"{where} with an API key → {r.status_code} {r.text[:200]}"
        elif scope == "any":
            key_id, key = _key(server, acct.token, ["projects:read"])
            r = server.request(method.upper(), fx.fill(path, key_id), key, json=_body(method))
            assert r.status_code < 400, f"{where} with a key → {r.status_code} {r.text[:200]}"
    assert checked >= 8


UNDOCUMENTED = [("GET", "/v1/nope"), ("GET", "/v1/projects/x/y"), ("POST", "/v1/projects/x/y"),
                ("GET", "/v2/projects"), ("GET", "/v1"), ("GET", "/v1/"),
                ("GET", "/v1/api-keys/key_x/token"), ("GET", "/.env")]

# A path the contract has, with a method it does not take: 405 and what it does take.
WRONG_METHOD = [("DELETE", "/v1/accounts", "POST"), ("GET", "/v1/sessions", "POST"), ("PUT", "/v1/projects", "GET, POST"),
                ("TRACE", "/healthz", "GET"), ("POST", "/v1/servers/srv_x/files/etc/hosts", "DELETE, GET, PUT"),
                ("PUT", "/v1/account/export", "POST")]


@pytest.mark.parametrize("method,path,allow", WRONG_METHOD)
def test_a_known_path_with_another_method_answers_405_with_allow(server, account, method, path, allow):
    for token in (None, account.token):  # the contract is public: the same answer either way
        r = server.request(method, path, token)
        assert r.status_code == 405, f"{method} {path} → {r.status_code} {r.text[:200]}"
        assert r.headers["Allow"] == allow, r.headers
        assert r.headers["Content-Type"].startswith(PROBLEM)
        assert r.json()["type"] == "urn:s4a:problem:method-not-allowed"


def test_head_is_not_taken_and_says_so(server):
    r = server.request("HEAD", "/healthz")
    assert r.status_code == 405 and r.headers["Allow"] == "GET", r.headers


def test_a_body_of_another_media_type_answers_415_after_authentication(server, account):
    r = server.request("POST", "/v1/projects", headers={"Content-Type": "text/plain"}, data="name=x")
    assert r.status_code == 401, r.text  # who asks comes first
    r = server.request("POST", "/v1/projects", account.token, headers={"Content-Type": "text/plain"}, data="name=x")
    assert r.status_code == 415 and r.json()["type"] == "urn:s4a:problem:unsupported-media-type", r.text
    assert "application/json" in r.json()["detail"], r.text
    # Parameters of the media type do not matter; nothing was created by the refusal.
    r = server.request("POST", "/v1/projects", account.token, headers={"Content-Type": "application/json; charset=utf-8"},
                       data='{"name": "typed"}')
    assert r.status_code == 201, r.text
    names = [p["name"] for p in server.request("GET", "/v1/projects", account.token).json()["items"]]
    assert names.count("typed") == 1, names


def test_null_for_a_field_is_refused_not_read_as_absent(server, account):
    made = server.request("POST", "/v1/projects", account.token, json={"name": "nulls"}).json()
    r = server.request("PATCH", f"/v1/projects/{made['id']}", account.token, json={"name": "renamed", "visibility": None})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "visibility", r.text
    assert server.request("GET", f"/v1/projects/{made['id']}", account.token).json()["name"] == "nulls"


@pytest.mark.parametrize("method,path", UNDOCUMENTED)
def test_undocumented_paths_answer_404_problem_json(server, account, method, path):
    for token in (None, account.token):  # credentials must not reveal more routes
        r = server.request(method, path, token, json={} if method != "GET" else None)
        assert r.status_code == 404, f"{method} {path} → {r.status_code} {r.text[:200]}"
        assert r.headers["Content-Type"].startswith(PROBLEM)
        body = r.json()
        assert body["status"] == 404 and body["type"].startswith("urn:s4a:problem:"), body


def test_undocumented_methods_on_documented_paths_are_refused(server, doc, account):
    """Every route the server answers is in the document: a method the document does not
    list for a path gets the router's 404/405."""
    for path, item in doc["paths"].items():
        documented = {m for m in item if m in METHODS}
        concrete = re.sub(r"\{(\w+)\}", lambda m: f"{m.group(1)[:3]}_x", path)
        for method in ("get", "put", "post", "delete", "patch", "options", "head"):
            if method in documented:
                continue
            r = server.request(method.upper(), concrete, account.token,
                               json={} if method in ("post", "put", "patch") else None)
            where = f"{method.upper()} {path} → {r.status_code} {r.text[:200]}"
            assert r.status_code in (404, 405), where
            if method != "head":
                assert r.headers["Content-Type"].startswith(PROBLEM), where
