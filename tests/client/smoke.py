#!/usr/bin/env python3
"""A new user's first script, through a Python client generated from terrane's OpenAPI document.

Generates a client with openapi-python-client from openapi/openapi.json (the committed document,
fresh on every run), starts the real binary on a fresh database, and through the generated
client only: creates an environment and a component, records a deployment, moves it to
in_progress and succeeded, reads the matrix, and walks the environment list by its RFC 8288
`Link: rel="next"` headers. Every answer must parse into the model the document promises; a
body the document calls valid that the server refuses, or an answer the model cannot read,
fails the run.

    .venv/bin/python tests/client/smoke.py --serve target/debug/terrane              # SQLite
    .venv/bin/python tests/client/smoke.py --serve target/debug/terrane --backend postgres

`make client-smoke` runs it on both backends. PostgreSQL: a database of its own on the server of
TERRANE_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), made and dropped
with psql. Exit status 0 when every step passed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
PACKAGE = "terrane_client"


def step(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def fail(message: str) -> None:
    print(f"smoke FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def generate(into: Path) -> None:
    """Generates the client package into `into`, with the venv's tools on PATH (so the
    generator formats its output with the ruff it installed, without a warning)."""
    bin_dir = Path(sys.executable).parent
    generator = bin_dir / "openapi-python-client"
    if not generator.exists():
        fail(f"{generator} is missing: run `make client-deps`")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [str(generator), "generate", "--path", str(SPEC), "--meta", "none",
         "--output-path", str(into / PACKAGE)],
        env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        fail(f"openapi-python-client failed:\n{result.stdout}{result.stderr}")
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "warning" in line.lower()]
    if warnings:
        fail("openapi-python-client warned about the document:\n" + "\n".join(warnings))
    sys.path.insert(0, str(into))


class Postgres:
    """A database of its own on the test PostgreSQL server, dropped at the end."""

    def __init__(self) -> None:
        admin = os.environ.get("TERRANE_TEST_DATABASE_URL",
                               "postgres://postgres@127.0.0.1:5432/postgres")
        self.admin = admin
        self.name = f"terrane_smoke_{uuid.uuid4().hex}"
        parts = urlsplit(admin)
        self.url = parts._replace(path=f"/{self.name}").geturl()
        self.psql(f"CREATE DATABASE {self.name}")

    def psql(self, sql: str) -> None:
        subprocess.run(["psql", "-q", self.admin, "-c", sql], check=True,
                       capture_output=True)

    def drop(self) -> None:
        try:
            self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except subprocess.CalledProcessError as error:
            print(f"smoke: could not drop {self.name}: {error.stderr!r}", file=sys.stderr)


class Server:
    """`terrane serve` on port 0 and a database of its own, killed at the end."""

    def __init__(self, binary: str, database_url: str) -> None:
        self.binary = binary
        self.env = dict(
            os.environ,
            TERRANE_DATABASE_URL=database_url,
            TERRANE_JWT_SECRET=secrets.token_hex(32),
            TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS="0",
            RUST_LOG="warn,terrane=info",
        )
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--workers", "2"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.log: list[str] = []
        listening = threading.Event()
        self.base = ""

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line)
                if not listening.is_set() and "listening on http://" in line:
                    self.base = line.split("listening on ", 1)[1].split()[0]
                    listening.set()

        threading.Thread(target=read, daemon=True).start()
        if not listening.wait(60):
            self.stop()
            fail("terrane did not start listening within 60 s:\n" + "".join(self.log[-20:]))

    def token(self) -> str:
        result = subprocess.run(
            [self.binary, "token", "--tenant", str(uuid.uuid4()), "--subject",
             str(uuid.uuid4()), "--role", "admin"],
            env=self.env, capture_output=True, text=True, check=True,
        )
        return result.stdout.strip()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def parsed(response, status: int, model, what: str):
    """The parsed body of `response`, which must have `status` and parse into `model`."""
    if response.status_code != status:
        fail(f"{what}: expected {status}, got {int(response.status_code)}: "
             f"{response.content.decode(errors='replace')}")
    body = response.parsed
    if not isinstance(body, model):
        fail(f"{what}: the answer did not parse into {model.__name__}: {body!r} "
             f"({response.content.decode(errors='replace')})")
    return body


def walk_pages(client, base: str) -> None:
    """Creates environments until the list has three pages of two, then walks it from the
    first page by `rel="next"` alone, with the generated client's own HTTP session."""
    from terrane_client.api.environments import create_environment
    from terrane_client.models import EnvironmentCreateBody, EnvironmentResponse

    for name in ("walk-a", "walk-b", "walk-c", "walk-d"):
        parsed(create_environment.sync_detailed(client=client,
                                                body=EnvironmentCreateBody(name=name)),
               201, EnvironmentResponse, f"creating environment {name}")
    http = client.get_httpx_client()
    url = f"{base}/api/v1/environments?sort=name&take=2"
    names: list[str] = []
    pages = 0
    while url:
        response = http.get(url)
        if response.status_code != 200:
            fail(f"GET {url}: {response.status_code} {response.text}")
        names += [env["name"] for env in response.json()]
        pages += 1
        if pages > 10:
            fail("the next links never end")
        link = response.links.get("next")
        url = urljoin(str(response.url), link["url"]) if link else ""
    expected = sorted(names)
    if pages != 3 or names != expected or len(names) != 5:
        fail(f"walking by Link rel=next gave {pages} pages: {names}")
    step(f"walked the environment list by Link rel=next: {pages} pages, {len(names)} rows")


def smoke(base: str, token: str) -> None:
    from terrane_client import AuthenticatedClient
    from terrane_client.api.catalog import create_component
    from terrane_client.api.deployments import (create_deployment, deployment_matrix,
                                                patch_deployment)
    from terrane_client.api.environments import create_environment
    from terrane_client.models import (ComponentCreateBody, ComponentCreateBodyKind,
                                       ComponentResponse, DeploymentBody, DeploymentResponse,
                                       EnvironmentCreateBody, EnvironmentResponse,
                                       TransitionBody, TransitionBodyStatus)

    client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

    env = parsed(create_environment.sync_detailed(
        client=client, body=EnvironmentCreateBody(name="staging", order_index=2)),
        201, EnvironmentResponse, "creating an environment")
    step(f"created environment {env.name} ({env.id})")

    component = parsed(create_component.sync_detailed(
        client=client,
        body=ComponentCreateBody(name="api", kind=ComponentCreateBodyKind.SERVICE)),
        201, ComponentResponse, "creating a component")
    step(f"created component {component.name} ({component.id})")

    deployment = parsed(create_deployment.sync_detailed(
        client=client,
        body=DeploymentBody(component_id=component.id, environment_id=env.id,
                            version="1.4.2")),
        201, DeploymentResponse, "recording a deployment")
    if deployment.status.value != "pending":
        fail(f"a recorded deployment is {deployment.status.value}, not pending")
    step(f"recorded deployment {deployment.id} ({deployment.status.value})")

    for status in (TransitionBodyStatus.IN_PROGRESS, TransitionBodyStatus.SUCCEEDED):
        deployment = parsed(patch_deployment.sync_detailed(
            deployment.id, client=client, body=TransitionBody(status=status)),
            200, DeploymentResponse, f"moving the deployment to {status.value}")
        if deployment.status.value != status.value:
            fail(f"moved to {status.value}, answered {deployment.status.value}")
        step(f"moved it to {deployment.status.value}")

    response = deployment_matrix.sync_detailed(client=client)
    if response.status_code != 200 or not isinstance(response.parsed, list):
        fail(f"reading the matrix: {int(response.status_code)} {response.content!r}")
    rows = [row for row in response.parsed if row.component_id == component.id]
    if len(rows) != 1:
        fail(f"the matrix has {len(rows)} rows for the component: {response.content!r}")
    cells = rows[0].environments.additional_properties
    cell = cells.get("staging")
    if cell is None or cell.version != "1.4.2" or cell.deployed_at != deployment.finished_at:
        fail(f"the matrix cell of staging is {cell!r}, expected 1.4.2 at "
             f"{deployment.finished_at}")
    step(f"the matrix shows {component.name} {cell.version} in {env.name}")

    walk_pages(client, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", required=True, help="the terrane binary to start")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="terrane-smoke-") as tmp:
        work = Path(tmp)
        generate(work)
        step(f"generated a client from {SPEC.relative_to(ROOT)}")
        postgres = Postgres() if args.backend == "postgres" else None
        database_url = postgres.url if postgres else f"sqlite://{work / 'terrane.db'}"
        server = None
        try:
            server = Server(args.serve, database_url)
            step(f"terrane on {args.backend} at {server.base}")
            smoke(server.base, server.token())
        finally:
            if server:
                server.stop()
            if postgres:
                postgres.drop()
    step(f"passed on {args.backend}")


if __name__ == "__main__":
    main()
