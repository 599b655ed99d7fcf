"""Look at or rebuild the public snapshot the app serves from."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from incidents import snapshot, snapshot_export
from incidents.management import rendering
from incidents.models import PublicChange
from statushub.lib.snapshot_store import snapshot_store


class Command(BaseCommand):
    help = "Refresh the public snapshot (default), or rebuild it whole with --rebuild (e.g. after renaming the site)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="render every public file again")
        rendering.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        store = snapshot_export.deployment_store()
        if options["rebuild"]:
            pks = snapshot.all_incident_pks()
            with rendering.progress_bar(len(pks), desc="Rendering", options=options) as bar:
                written = snapshot.build(store, progress=bar.update, pks=pks, jobs=options["jobs"])
        else:
            written = snapshot.refresh(store)
        where = getattr(snapshot_store(), "root", None) or "Redis"
        self.stdout.write(
            f"Snapshot in {where}: {written} files written or removed; "
            f"{PublicChange.objects.count()} changes still waiting."
        )
