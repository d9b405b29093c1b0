"""``hexagone project``: projects of customer organisations."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli import resolve
from hexagone.cli.options import All, Cursor, Limit, Output, drop_none, show_list
from hexagone.cli.output import print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Projects: where a customer's resources live.")

COLUMNS = ("id", "name", "org_id", "description", "created_at")
ProjectRef = Annotated[str, typer.Argument(help="Project name or id.")]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="Organisation name or id (to find the project by name).")
]


@app.command("list")
def list_(
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's projects.")] = None,
    name: Annotated[str | None, typer.Option(help="Only projects of this exact name.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Projects you can see."""
    api = client()
    params = {"org_id": resolve.org_id(api, org) if org else None, "name": name}
    show_list(
        api,
        "/v1/projects",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No project matches.",
    )


@app.command()
def show(project: ProjectRef, org: OrgOpt = None, output: Output = None) -> None:
    """One project."""
    api = client()
    print_record(api.get(f"/v1/projects/{resolve.project_id(api, project, org)}"), output_format(output))


@app.command()
def create(
    org: Annotated[str, typer.Option("--org", help="The customer organisation (name or id).")],
    name: Annotated[str, typer.Option("--name", help="Project name, unique in the organisation.")],
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    output: Output = None,
) -> None:
    """Create a project in a customer organisation."""
    api = client()
    project = api.post(
        "/v1/projects", {"org_id": resolve.org_id(api, org), "name": name, "description": description}
    )
    fmt = output_format(output)
    say(f"Created project '{project['name']}' ({project['id']}).", fmt)
    print_record(project, fmt)


@app.command()
def update(
    project: ProjectRef,
    org: OrgOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="New description.")] = None,
    output: Output = None,
) -> None:
    """Rename a project or change its description."""
    api = client()
    body = drop_none({"name": name, "description": description})
    if not body:
        raise typer.BadParameter("Give --name or --description.")
    updated = api.patch(f"/v1/projects/{resolve.project_id(api, project, org)}", body)
    fmt = output_format(output)
    say(f"Updated project '{updated['name']}'.", fmt)
    print_record(updated, fmt)


@app.command()
def delete(
    project: ProjectRef,
    org: OrgOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Delete an empty project."""
    api = client()
    pid = resolve.project_id(api, project, org)
    if not yes:
        typer.confirm(f"Delete project {project}?", abort=True)
    api.delete(f"/v1/projects/{pid}")
    say(f"Deleted project {project}.", output_format(output))
