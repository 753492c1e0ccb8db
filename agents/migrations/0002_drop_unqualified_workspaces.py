"""Drop workspace rows the registration rules of agents/workspaces.py would not make now.

Before those rules any client could register any spelling of any folder: an audit added
3,000 spellings of one folder (`/tmp//x`, `/tmp///x`, ...) and /proc, /sys and /dev paths,
and every listing of workspaces then checked each of them. Only what needs no file system
look is decided here (one spelling per folder, none under /proc, /sys or /dev); the rest
(owner, a `.claude/agents` folder) is checked again at every reload anyway.
"""

import os

from django.db import migrations

FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


def _kept(path: str) -> bool:
    if not path.startswith("/") or any(ord(c) < 32 for c in path):
        return False
    if "/" + os.path.normpath(path).lstrip("/") != path or path == "/":
        return False
    return not any(path == root or path.startswith(f"{root}/") for root in FORBIDDEN_ROOTS)


def drop_unqualified(apps: object, schema_editor: object) -> None:
    workspace = apps.get_model("agents", "Workspace")  # type: ignore[attr-defined]
    dropped = [pk for pk, path in workspace.objects.values_list("pk", "path") if not _kept(path)]
    for start in range(0, len(dropped), 500):
        workspace.objects.filter(pk__in=dropped[start : start + 500]).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(drop_unqualified, migrations.RunPython.noop)]
