"""Billing section: meter, rate and invoice one month for 130 resellers (10 of them sub-resellers),
1,000 customer organisations and 10,000 instances with churn, on SQLite and (when a server is
given) PostgreSQL.

Each database run is a separate child process (``python -m bench.billing --child URL``) so its
peak resident memory (VmHWM) is the workload's alone. The child bulk-loads the organisation tree,
projects, prices (with a mid-month change), retail rules and instance rows, then times:

* **meter**: every lifecycle transition of the month (and the month before, for instances that
  enter it already running) through ``billing.metering.instance_changed`` — the same call compute
  makes in its transactions — committed in batches of 500 instances;
* **rate + invoice**: ``billing.invoicing.close_period`` for the month: read the events, rate them
  at every level of the tree, write every invoice and line;
* **report**: the operator's revenue report of the month.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench import Context, Result
from bench.framework import describe_machine, peak_rss_mb
from bench.report import Aim, Table, aims_table, machine_markdown
from bench.server import fresh_pg_database, pg_version, temp_data_dir

UTC = dt.UTC
MONTH_START = dt.datetime(2026, 3, 1, tzinfo=UTC)
MONTH_END = dt.datetime(2026, 4, 1, tzinfo=UTC)
AIM_SECONDS, AIM_RSS_MB = 60.0, 1000.0
DESCRIPTION = (
    "churn: 30 % of the instances exist before the month, 40 % are stopped once, 40 % of those "
    "started again, 35 % deleted; a mid-month wholesale price change; markups on every reseller and "
    "discounts on one customer in ten. Each database is measured in its own process (peak RSS is that "
    "process's VmHWM, including the bulk load). *meter* writes every lifecycle event through "
    "`billing.metering.instance_changed` (the call compute makes in its state-change transactions), "
    "batched 500 instances per transaction; *rate + invoice* is `billing.invoicing.close_period` for "
    "March 2026 (reads the events, rates every level of the tree, writes every invoice and line in one "
    "transaction); *report* is the operator's revenue report of the month. The machine is shared with "
    "other work: see the load average."
)


@dataclass(frozen=True)
class Scale:
    resellers: int = 130
    sub_resellers: int = 10
    customers: int = 1000
    instances: int = 10_000

    @classmethod
    def for_context(cls, ctx: Context) -> Scale:
        return cls(13, 1, 100, 1000) if ctx.quick else cls()


ISSUER_IDENTITY = {"country": "FR", "siren": "732829320", "vat_id": "FR44732829320", "address": "1 rue de la Paix"}


def _load(rt, scale: Scale, rnd: random.Random):  # type: ignore[no-untyped-def]
    """Bulk-load the tree, catalogue, prices and instance rows; return the instance lifecycles."""
    from sqlalchemy import insert, select

    from hexagone.db.billing_models import PriceEntry, RetailRule
    from hexagone.db.compute_models import Flavor, Image, Instance
    from hexagone.db.models import Organisation, Project, Region
    from hexagone.ids import new_id

    now = MONTH_START - dt.timedelta(days=40)
    flavors = [
        ("b.small", 1, 1024, 10, "0.0100", False),
        ("b.medium", 2, 4096, 40, "0.0400", True),
        ("b.large", 8, 16384, 80, "0.1600", True),
    ]
    with rt.db.write() as s:
        root = s.execute(select(Organisation).where(Organisation.parent_id.is_(None))).scalar_one()
        region = s.execute(select(Region)).scalars().first()
        image_id = new_id()
        s.add(
            Image(
                id=image_id,
                name="base",
                owner_org_id=None,
                org_path=root.path,
                visibility="public",
                status="active",
                created_at=now,
                updated_at=now,
            )
        )
        fl_ids = {}
        for name, vcpus, ram, disk, price, stopped in flavors:
            fl_ids[name] = new_id()
            s.add(Flavor(id=fl_ids[name], name=name, vcpus=vcpus, ram_mb=ram, disk_gb=disk, created_at=now))
            s.add(
                PriceEntry(
                    id=new_id(),
                    region_id=region.id,
                    product=f"instance.{name}",
                    unit="hour",
                    price=Decimal(price),
                    bill_stopped=stopped,
                    effective_from=now,
                    created_at=now,
                )
            )
        s.add(
            PriceEntry(
                id=new_id(),
                region_id=region.id,
                product="instance.b.small",
                unit="hour",
                price=Decimal("0.0120"),
                effective_from=MONTH_START + dt.timedelta(days=15),
                created_at=now,
            )
        )
        orgs, rules = [], []

        def org(parent, kind: str, n: int) -> dict:  # type: ignore[no-untyped-def]
            oid = new_id()
            row = {
                "id": oid,
                "parent_id": parent["id"],
                "kind": kind,
                "name": f"{kind}-{n}",
                "path": f"{parent['path']}{oid}/",
                "depth": parent["depth"] + 1,
                "legal_name": f"{kind} {n} SAS",
                "country": rnd.choice(["FR"] * 8 + ["BE", "US"]),
                "vat_id": "",
                "residency": {},
                "created_at": now,
                "updated_at": now,
            }
            if kind == "customer" and row["country"] == "BE" and n % 2:
                row["vat_id"] = "BE0123456789"
            if kind == "reseller":  # issuers need a complete legal identity (or their invoices are held)
                row.update(ISSUER_IDENTITY)
            orgs.append(row)
            return row

        for key, value in ISSUER_IDENTITY.items():
            setattr(root, key, value)
        top = {"id": root.id, "path": root.path, "depth": 0}
        resellers = [org(top, "reseller", i) for i in range(scale.resellers - scale.sub_resellers)]
        resellers += [org(rnd.choice(resellers), "reseller", 1000 + i) for i in range(scale.sub_resellers)]
        for r in resellers:
            rules.append(
                {
                    "id": new_id(),
                    "issuer_org_id": r["id"],
                    "kind": "markup",
                    "product": "",
                    "region_id": "",
                    "customer_org_id": "",
                    "value": Decimal(rnd.choice(["10", "15", "20", "30"])),
                    "effective_from": now,
                    "created_at": now,
                }
            )
        rules.append(
            {
                "id": new_id(),
                "issuer_org_id": root.id,
                "kind": "markup",
                "product": "",
                "region_id": "",
                "customer_org_id": "",
                "value": Decimal("25"),
                "effective_from": now,
                "created_at": now,
            }
        )
        customers = [
            org(rnd.choice([top, *resellers, *resellers]), "customer", i) for i in range(scale.customers)
        ]
        for cust in customers[::10]:
            if cust["parent_id"] != root.id:
                rules.append(
                    {
                        "id": new_id(),
                        "issuer_org_id": cust["parent_id"],
                        "kind": "discount",
                        "product": "",
                        "region_id": "",
                        "customer_org_id": cust["id"],
                        "value": Decimal("5"),
                        "effective_from": now,
                        "created_at": now,
                    }
                )
        s.execute(insert(Organisation), orgs)
        s.execute(insert(RetailRule), rules)
        projects = [
            {
                "id": new_id(),
                "org_id": c["id"],
                "org_path": c["path"],
                "name": "prod",
                "description": "",
                "created_at": now,
                "updated_at": now,
            }
            for c in customers
        ]
        s.execute(insert(Project), projects)
        rows, lives = [], []
        for i in range(scale.instances):
            p = rnd.choice(projects)
            fl = rnd.choice(list(fl_ids))
            iid = new_id()
            rows.append(
                {
                    "id": iid,
                    "name": f"vm{i}",
                    "project_id": p["id"],
                    "org_id": p["org_id"],
                    "org_path": p["org_path"],
                    "user_id": "bench",
                    "flavor_id": fl_ids[fl],
                    "image_id": image_id,
                    "vcpus": 1,
                    "ram_mb": 1024,
                    "disk_gb": 10,
                    "region_id": region.id,
                    "state": "BUILDING",
                    "metadata": {},
                    "ssh_keys": [],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            lives.append((iid, _lifecycle(rnd)))
        s.execute(insert(Instance), rows)
    return lives


def _lifecycle(rnd: random.Random) -> list[tuple[dt.datetime, str]]:
    """Create (30 % before the month), run, maybe stop and start again, maybe delete: with churn."""
    month = (MONTH_END - MONTH_START).total_seconds()
    t = MONTH_START + dt.timedelta(seconds=rnd.uniform(-0.3, 0.9) * month)
    out = [(t, "BUILDING")]
    t += dt.timedelta(seconds=rnd.randint(20, 300))
    out.append((t, "RUNNING"))
    for state in ("STOPPED", "RUNNING"):
        if rnd.random() < 0.4:
            t += dt.timedelta(seconds=rnd.randint(600, 10 * 86400))
            out.append((t, state))
    if rnd.random() < 0.35:
        t += dt.timedelta(seconds=rnd.randint(600, 10 * 86400))
        out += [(t, "DELETING"), (t + dt.timedelta(seconds=rnd.randint(1, 90)), "DELETED")]
    return [(when, state) for when, state in out if when < MONTH_END]


def child(url: str, quick: bool) -> None:
    from sqlalchemy import func, select

    from hexagone.audit.service import Actor
    from hexagone.authz.policy import Grant, Principal
    from hexagone.billing import invoicing, metering, periods, reports
    from hexagone.bootstrap import build_runtime, initialise
    from hexagone.clock import FrozenClock
    from hexagone.db.billing_models import Invoice, InvoiceLine, UsageEvent
    from hexagone.db.compute_models import Instance
    from hexagone.db.models import Organisation
    from hexagone.settings import Settings
    from hexagone.usecase import UseCase

    scale = Scale(13, 1, 100, 1000) if quick else Scale()
    with temp_data_dir() as data:
        settings = Settings(
            data_dir=data,
            database_url=url,
            secret_key="bench-key-0123456789",
            admin_password="bench-admin-password",
            argon2_time_cost=1,
            argon2_memory_kib=8192,
            argon2_parallelism=1,
        )
        rt = build_runtime(settings, clock=FrozenClock(MONTH_START))
        initialise(rt)
        t0 = time.perf_counter()
        lives = _load(rt, scale, random.Random(2026))
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for start in range(0, len(lives), 500):
            with rt.db.write() as s:
                insts = {
                    i.id: i
                    for i in s.execute(
                        select(Instance).where(
                            Instance.id.in_([iid for iid, _ in lives[start : start + 500]])
                        )
                    ).scalars()
                }
                for iid, life in lives[start : start + 500]:
                    before = None
                    for when, state in life:
                        uc = UseCase(session=s, now=when, settings=settings, hasher=rt.hasher, actor=Actor())
                        metering.instance_changed(uc, insts[iid], before, state)
                        before = state
        meter_s = time.perf_counter() - t0
        with rt.db.read() as s:
            events = s.execute(select(func.count()).select_from(UsageEvent)).scalar_one()
            root = s.execute(select(Organisation).where(Organisation.parent_id.is_(None))).scalar_one()
            root_id, root_path = root.id, root.path
        principal = Principal(
            user_id="bench",
            org_id=root_id,
            org_path=root_path,
            root_path=root_path,
            grants=(Grant("owner", "org", root_id, root_path),),
        )
        period = periods.Period(MONTH_START, MONTH_END)
        t0 = time.perf_counter()
        with rt.db.write() as s:
            uc = UseCase(
                session=s,
                now=MONTH_END + dt.timedelta(hours=1),
                settings=settings,
                hasher=rt.hasher,
                actor=Actor(name="bench"),
                principal=principal,
            )
            result = invoicing.close_period(uc, period)
        close_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with rt.db.read() as s:
            uc = UseCase(
                session=s,
                now=MONTH_END,
                settings=settings,
                hasher=rt.hasher,
                actor=Actor(),
                principal=principal,
            )
            rows = reports.revenue(uc, root_id, period)
            lines = s.execute(select(func.count()).select_from(InvoiceLine)).scalar_one()
            gross = s.execute(select(Invoice.total_gross)).scalars().all()
        report_s = time.perf_counter() - t0
        rt.db.dispose()
    print(
        json.dumps(
            {
                "load": load_s,
                "meter": meter_s,
                "close": close_s,
                "report": report_s,
                "events": events,
                "invoices": len(result.issued),
                "lines": lines,
                "report_rows": len(rows),
                "gross": str(sum(gross, Decimal(0))),
                "instances": scale.instances,
                "peak_rss_mb": peak_rss_mb(__import__("os").getpid()),
            }
        )
    )


def _run_child(url: str, quick: bool) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, "-m", "bench.billing", "--child", url] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(ctx: Context) -> Result:
    scale = Scale.for_context(ctx)
    machine = describe_machine(postgresql=pg_version(ctx.pg_server_url) if ctx.pg_server_url else None)
    runs: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    with temp_data_dir() as d:
        print("billing: SQLite…", flush=True)
        runs.append(("SQLite", _run_child(f"sqlite:///{d / 'bench.db'}", ctx.quick)))
    if ctx.pg_server_url:
        with fresh_pg_database(ctx.pg_server_url) as url:
            print("billing: PostgreSQL…", flush=True)
            runs.append(("PostgreSQL", _run_child(url, ctx.quick)))
    table = Table(
        [
            "database",
            "usage events",
            "meter s",
            "rate + invoice s",
            "invoices",
            "lines",
            "report s",
            "total s (meter + rate + invoice)",
            "peak RSS MB",
        ]
    )
    aims = []
    for label, r in runs:
        total = r["meter"] + r["close"]
        table.add(
            label,
            f"{r['events']:,}",
            f"{r['meter']:.1f}",
            f"{r['close']:.1f}",
            f"{r['invoices']:,}",
            f"{r['lines']:,}",
            f"{r['report']:.2f}",
            f"{total:.1f}",
            f"{r['peak_rss_mb']:.0f}",
        )
        aims.append(
            Aim(
                f"meter + rate + invoice a month, {label}",
                f"< {AIM_SECONDS:.0f} s",
                f"{total:.1f} s",
                total < AIM_SECONDS,
            )
        )
        aims.append(
            Aim(
                f"peak resident memory, {label}",
                f"< {AIM_RSS_MB:.0f} MB",
                f"{r['peak_rss_mb']:.0f} MB",
                r["peak_rss_mb"] < AIM_RSS_MB,
            )
        )
    scale_text = (
        f"{scale.resellers} resellers ({scale.sub_resellers} of them sub-resellers), {scale.customers:,} "
        f"customer organisations (one project each), {scale.instances:,} instances of 3 flavors"
    )
    console = "\n\n".join([scale_text, table.text(), aims_table(aims).text()])
    markdown = "\n\n".join(
        [
            "## Billing (metering, rating, invoicing)",
            f"Generated by `make bench` (`python -m bench billing`). {scale_text}; " + DESCRIPTION,
            "### Machine",
            machine_markdown(machine),
            "### Results",
            table.markdown(),
            "### Aims",
            aims_table(aims).markdown(),
        ]
    )
    return Result(console, markdown)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        child(sys.argv[2], "--quick" in sys.argv)
    else:
        from bench.__main__ import main

        sys.exit(main(["billing", *sys.argv[1:]]))
