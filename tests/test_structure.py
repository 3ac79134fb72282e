"""The architecture holds: no import cycles, and create_app alone wires every feature."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("alerts", "channels", "geodata")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports, at module level or inside a function."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in known else module)
    return {target for target in targets if target in known and target != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_applications_modules():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert len(graph) > 80  # the walk found the code
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_channels_and_geodata_import_neither_flask_nor_the_app():
    modules = _modules()
    for name, path in modules.items():
        if name.startswith(("channels", "geodata")):
            imported = {
                alias.name.split(".")[0]
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (
                    node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
                )
            }
            assert not imported & {"flask", "alerts"}, name


def test_notices_reach_dispatch_only_from_the_console_pages():
    """Publishing must never depend on the dispatcher being imported: notices announce a
    released revision with a signal. Only the console's pages read dispatch's reports."""
    modules = _modules()
    known = set(modules)
    offenders = {
        name: sorted(t for t in _imports(name, path, known) if t.startswith("alerts.dispatch"))
        for name, path in modules.items()
        if name.startswith("alerts.notices") and not path.name.startswith("console")
    }
    assert not {name: found for name, found in offenders.items() if found}


def test_no_import_is_kept_for_its_side_effect():
    for path in _modules().values():
        assert "noqa: F401" not in path.read_text(), path


def test_create_app_alone_wires_fan_out_jobs_and_metrics(app, database_url):
    """In a fresh interpreter that imports nothing but the factory, publishing through the
    API writes its fan-out job, a dispatcher writes and sends the outbox rows, the scheduler
    has its jobs and /metrics counts both. (``app`` is here to empty the tables afterwards.)"""
    script = textwrap.dedent(
        f"""
        from alerts.app import create_app

        app = create_app({{"VARSLA_DATABASE_URL": {database_url!r}, "SECRET_KEY": "x"}})
        client = app.test_client()
        with app.app_context():
            from alerts.extensions import db
            from alerts.operators.auth import create_api_key, create_operator
            from alerts.scheduling import registered_jobs
            from tests.delivery import create_subscriber
            from tests.factories import create_zone, notice_payload

            session = db.sessionmaker()
            author = create_operator(session, "a@x.se", role="author", password="p" * 12)
            approver = create_operator(session, "b@x.se", role="approver", password="p" * 12)
            create_zone(session)
            create_subscriber(session, phone="+46701740605")
            keys = {{op.email: create_api_key(session, op) for op in (author, approver)}}
            session.commit()
            jobs = sorted(registered_jobs(app))

        def post(path, who, body=None):
            headers = {{"Authorization": "Bearer " + keys[who]}}
            response = client.post("/api/v1" + path, json=body or {{}}, headers=headers)
            assert response.status_code in (200, 201), response.get_json()
            return response.get_json()

        nid = post("/notices", "a@x.se", notice_payload())["id"]
        post(f"/notices/{{nid}}/submit", "a@x.se")
        post(f"/notices/{{nid}}/approve", "b@x.se")
        post(f"/notices/{{nid}}/publish", "b@x.se")
        def metrics(prefix):
            text = client.get("/metrics").get_data(as_text=True)
            return [l for l in text.splitlines() if l.startswith(prefix)]

        print("JOBS", ",".join(jobs))
        print("PUBLISHED", metrics("varsla_fanout_jobs_open"), metrics("varsla_deliveries"))
        from alerts.dispatch.worker import Dispatcher

        Dispatcher(app).run(until_idle=True)
        print("DISPATCHED", metrics("varsla_fanout_jobs_open"), metrics("varsla_deliveries"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = next(line for line in result.stdout.splitlines() if line.startswith("JOBS"))
    for job in ("activate_due", "expire_ended", "reclaim_leases", "purge_expired_deliveries"):
        assert job in jobs
    published = next(line for line in result.stdout.splitlines() if line.startswith("PUBLISHED"))
    assert 'varsla_fanout_jobs_open{state="pending"} 1.0' in published
    assert "varsla_deliveries{" not in published  # the job, not the rows
    dispatched = next(line for line in result.stdout.splitlines() if line.startswith("DISPATCHED"))
    assert 'varsla_fanout_jobs_open{state="pending"} 0.0' in dispatched
    assert 'varsla_deliveries{channel="sms",status="accepted"} 1.0' in dispatched
