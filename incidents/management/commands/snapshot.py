"""Look at or rebuild the public snapshot the app serves from."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from incidents import snapshot
from incidents.models import PublicChange
from statushub.lib.snapshot_store import snapshot_store


class Command(BaseCommand):
    help = "Refresh the public snapshot (default), or rebuild it whole with --rebuild (e.g. after renaming the site)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="render every public file again")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="processes rendering side by side (default: cores)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = snapshot.deployment_store()
        if options["rebuild"]:
            pks = snapshot.all_incident_pks()
            with tqdm(
                total=len(pks), unit="incident", disable=options["no_progress"], file=self.stderr
            ) as bar:
                written = snapshot.build(store, progress=bar.update, pks=pks, jobs=options["jobs"])
        else:
            written = snapshot.refresh(store)
        where = getattr(snapshot_store(), "root", None) or "Redis"
        self.stdout.write(
            f"Snapshot in {where}: {written} files written or removed; "
            f"{PublicChange.objects.count()} changes still waiting."
        )
