"""``statushub export DIR``: the public site as static files, byte for byte what the app serves."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from incidents import snapshot, snapshot_export
from incidents.management import rendering


class Command(BaseCommand):
    help = (
        "Write every public page, feed, API document, key and statement as static files under DIR "
        "(a symbolic link switched atomically to the new copy), ready for nginx, any static host or a CDN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", type=Path, help="where the site goes, e.g. /srv/status")
        parser.add_argument("--keep", type=int, default=2, help="earlier exports kept beside it (default 2)")
        rendering.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        bars: list[tqdm[Any]] = []

        def progress(total: int) -> snapshot.Progress:
            bar = rendering.progress_bar(total, desc="Exporting", options=options)
            bars.append(bar)
            return bar.update

        if snapshot.differs_from_served():
            self.stderr.write(
                "Warning: the site the app serves was rendered by another release or with other settings (site name, "
                "address, time zone) than this command has. Run it with the server's environment, or the export "
                "will not match what visitors see."
            )
        try:
            done = snapshot_export.export(
                options["dir"], progress=progress, keep=options["keep"], jobs=options["jobs"]
            )
        except snapshot_export.ExportError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars:
                bar.close()
        self.stdout.write(
            f"Exported {done.files} files ({done.incidents} incidents) to {done.target} → {done.version_dir.name}"
        )
